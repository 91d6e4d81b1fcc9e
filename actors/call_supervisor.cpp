#include "actors/call_supervisor.hpp"

#include <random>

#include "actors/local_call.hpp"
#include "actors/provider_call.hpp"
#include "core/log.hpp"

namespace askd::actors {
namespace {

struct supervisor_state {
  std::shared_ptr<engine_context> context;
  supervised_generation generation;
  generation_listener_actor listener;
  caf::actor_addr call;  // the attempt in flight
  int attempt = 0;       // attempts started with the current provider
  int total_attempts = 0;
  std::size_t next_fallback = 0;
  bool sent_text = false;
  bool lean = false;  // retrying without the retrieved context
  bool over = false;
  std::vector<std::string> degraded;
  std::string request_id;
  static inline const char* name = "call_supervisor";
};

using self_ptr = call_supervisor_actor::stateful_pointer<supervisor_state>;

void start_attempt(self_ptr self) {
  auto& st = self->state;
  ++st.attempt;
  ++st.total_attempts;
  st.context->metrics.attempts++;
  auto listener = caf::actor_cast<generation_listener_actor>(self);
  if (st.generation.provider->offline()) {
    st.call = spawn_local_call(*self, st.context, st.generation.local_answer, listener).address();
    return;
  }
  const auto& req = st.lean ? *st.generation.lean : st.generation.request;
  st.call = spawn_provider_call(*self, st.context, st.generation.provider, req, listener).address();
}

// Hands over to the next provider of the chain; false when there is none.
bool fall_back(self_ptr self, const core::error& err) {
  auto& st = self->state;
  auto& g = st.generation;
  if (st.sent_text || st.next_fallback >= g.fallbacks.size()) return false;
  // Only failures of the provider itself: a malformed request would fail the same.
  bool provider_down =
      err.code == core::error_code::timeout || err.code == core::error_code::upstream ||
      err.code == core::error_code::rate_limited || err.code == core::error_code::unauthorized ||
      err.code == core::error_code::provider_unavailable;
  if (!provider_down) return false;
  auto [next, model] = g.fallbacks[st.next_fallback++];
  core::log_warn("fallback")
      .kv("from", g.provider->id())
      .kv("to", next->id())
      .kv("class", core::wire_name(err.code))
      .kv("error", err.message);
  g.provider = std::move(next);
  g.request.model = model;
  if (g.lean) g.lean->model = model;
  st.attempt = 0;
  st.degraded.push_back("fallback:" + g.provider->id());
  st.context->metrics.fallbacks++;
  start_attempt(self);
  return true;
}

void give_up(self_ptr self, core::error err) {
  auto& st = self->state;
  if (st.over) return;
  st.over = true;
  if (st.total_attempts > 1)
    err.message += " (after " + std::to_string(st.total_attempts) + " attempts)";
  self->send(st.listener, failed_atom::value, std::move(err));
  self->quit();
}

// Whether and when to try again after `err`; nullopt: do not.
std::optional<std::chrono::milliseconds> retry_delay(self_ptr self, const core::error& err) {
  auto& st = self->state;
  const auto& u = st.context->config.upstream;
  if (st.sent_text) return std::nullopt;  // the client has text: a retry would repeat it
  if (err.code == core::error_code::context_length) {
    if (st.lean || !st.generation.lean) return std::nullopt;
    st.lean = true;
    st.degraded.push_back("retrieval");
    return std::chrono::milliseconds(0);
  }
  if (!err.retryable || st.attempt >= u.max_attempts) return std::nullopt;
  if (err.retry_after_ms >= 0) {
    if (err.retry_after_ms > u.max_retry_after_ms) return std::nullopt;
    return std::chrono::milliseconds(err.retry_after_ms);
  }
  static thread_local std::mt19937 rng{std::random_device{}()};
  double jitter = std::uniform_real_distribution<double>(0.8, 1.2)(rng);
  return backoff_delay(st.attempt, u.backoff_ms, jitter);
}

call_supervisor_actor::behavior_type supervisor(self_ptr self,
                                                std::shared_ptr<engine_context> context,
                                                supervised_generation generation,
                                                generation_listener_actor listener) {
  auto& st = self->state;
  context->census.supervisors++;
  self->attach_functor([context] { context->census.supervisors--; });
  st.context = std::move(context);
  st.generation = std::move(generation);
  st.listener = std::move(listener);
  // A call that ends normally has already said how; one that crashes is a failure.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    if (msg.reason == caf::exit_reason::normal) return;
    if (msg.source == st.call && !st.over) {
      give_up(self, core::error::make(core::error_code::internal,
                                      "the provider call crashed: " + to_string(msg.reason)));
      return;
    }
    self->quit(std::move(msg.reason));  // the session went away
  });
  start_attempt(self);
  return {
      [=](delta_atom, std::string& text) {
        auto& st = self->state;
        if (st.over) return;
        st.sent_text = true;
        self->send(st.listener, delta_atom::value, std::move(text));
      },
      [=](finished_atom, call_summary& summary) {
        auto& st = self->state;
        if (st.over) return;
        st.over = true;
        summary.attempts = st.total_attempts;
        summary.degraded = st.degraded;
        st.context->metrics.degradations += static_cast<std::int64_t>(st.degraded.size());
        self->send(st.listener, finished_atom::value, std::move(summary));
        self->quit();
      },
      [=](failed_atom, core::error& err) {
        auto& st = self->state;
        if (st.over) return;
        auto delay = retry_delay(self, err);
        if (!delay) {
          if (fall_back(self, err)) return;
          return give_up(self, std::move(err));
        }
        st.context->metrics.retries[static_cast<std::size_t>(err.code) % 16]++;
        core::log_info("retry")
            .kv("provider", st.generation.provider->id())
            .kv("attempt", st.attempt + 1)
            .kv("class", core::wire_name(err.code))
            .kv("delay_ms", static_cast<std::int64_t>(delay->count()))
            .kv("error", err.message);
        if (delay->count() == 0) return start_attempt(self);
        self->delayed_send(self, *delay, retry_atom::value);
      },
      [=](retry_atom) {
        if (!self->state.over) start_attempt(self);
      },
  };
}

}  // namespace

std::chrono::milliseconds backoff_delay(int attempt, int base_ms, double jitter) {
  double ms = base_ms * static_cast<double>(1u << std::min(attempt - 1, 20)) * jitter;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

call_supervisor_actor spawn_call_supervisor(caf::local_actor& parent,
                                            std::shared_ptr<engine_context> context,
                                            supervised_generation generation,
                                            generation_listener_actor listener) {
  return parent.spawn<caf::linked>(supervisor, std::move(context), std::move(generation),
                                   std::move(listener));
}

}  // namespace askd::actors
