#include "actors/call_supervisor.hpp"

#include <random>

#include "actors/children.hpp"
#include "actors/limiter.hpp"
#include "actors/local_call.hpp"
#include "actors/provider_call.hpp"
#include "actors/timer.hpp"
#include "core/log.hpp"

namespace askd::actors {

const char* const continue_instruction =
    "Your previous answer was cut off. Continue it exactly where it stopped: do not repeat "
    "anything already written and do not add any preamble.";

namespace {

struct supervisor_state {
  std::shared_ptr<engine_context> context;
  supervised_generation generation;
  generation_listener_actor listener;
  caf::actor_addr call;    // the attempt in flight
  int attempt = 0;         // attempts started with the current provider
  int total_attempts = 0;  // also the number the attempt in flight offers its text under
  std::size_t next_fallback = 0;
  bool lean = false;  // retrying without the retrieved context
  bool over = false;
  std::vector<std::string> degraded;
  census_count counted;
  timer_slot backoff;  // before the next attempt
  static inline const char* name = "call_supervisor";
};

using self_ptr = call_supervisor_actor::stateful_pointer<supervisor_state>;

caf::actor_addr spawn_real_attempt(
    caf::local_actor& self, const std::shared_ptr<const providers::provider>& provider,
    const providers::generation_request& request, const std::shared_ptr<generation_output>& output,
    int attempt, generation_listener_actor listener, const std::shared_ptr<engine_context>& context,
    const never_actor& timers, const std::vector<std::string>& local_answer) {
  if (provider->offline())
    return spawn_local_call(self, context, local_answer, output, attempt, listener).address();
  return spawn_provider_call(self, context, timers, provider, provider->build(request), output,
                             attempt, listener)
      .address();
}

void give_up(self_ptr self, core::error err);

void start_attempt(self_ptr self) {
  auto& st = self->state;
  ++st.attempt;
  ++st.total_attempts;
  st.context->metrics.attempts++;
  auto listener = caf::actor_cast<generation_listener_actor>(self);
  auto& g = st.generation;
  const auto& prompt = st.lean ? *g.lean : g.request;
  std::optional<providers::generation_request> continued;  // a copy only when it differs
  if (auto sent = g.output->sent(); !sent.empty()) {       // continue the partial answer
    continued = prompt;
    continued->messages.push_back({"assistant", std::move(sent)});
    continued->messages.push_back({"user", continue_instruction});
  }
  const auto& req = continued ? *continued : prompt;
  g.output->begin(st.total_attempts);
  // Building the upstream request allocates: a failure is this attempt's, as it was when
  // the call built it.
  try {
    st.call = g.spawn_attempt
                  ? g.spawn_attempt(*self, g.provider, req, g.output, st.total_attempts, listener)
                  : spawn_real_attempt(*self, g.provider, req, g.output, st.total_attempts,
                                       listener, st.context, g.timers, g.local_answer);
    g.output->count_attempt();
  } catch (const std::exception& e) {
    give_up(self, core::error::make(core::error_code::internal,
                                    "the provider call could not start: " + std::string(e.what())));
  }
}

// The slot this generation holds goes back before the session hears the end. At the
// session's own provider the session keeps its place (a research's next round claims a
// slot again; the session gives the place back when it ends); after a fallback the slot
// is another provider's, and the place there goes too.
void release_slot(self_ptr self) {
  const auto& st = self->state;
  const auto& g = st.generation;
  if (!g.limiter || !g.holder) return;
  if (st.next_fallback == 0)
    give_back(st.context, g.limiter, yield_atom::value, g.holder);
  else
    give_back(st.context, g.limiter, release_atom::value, g.holder);
}

void give_up(self_ptr self, core::error err) {
  auto& st = self->state;
  if (st.over) return;
  st.over = true;
  st.generation.output->end_attempt();
  release_slot(self);
  if (st.total_attempts > 1)
    err.message += " (after " + std::to_string(st.total_attempts) + " attempts)";
  self->send(st.listener, failed_atom::value, std::move(err));
  self->quit();
}

// Whether a failure means the provider itself is down (a malformed request would fail
// the same anywhere).
bool provider_down(const core::error& err) {
  using core::error_code;
  return err.code == error_code::timeout || err.code == error_code::upstream ||
         err.code == error_code::rate_limited || err.code == error_code::unauthorized ||
         err.code == error_code::provider_unavailable;
}

void claim_fallback(self_ptr self, core::error err);

// Hands over to the next provider of the chain that has room; false when there is none.
bool fall_back(self_ptr self, const core::error& err) {
  auto& st = self->state;
  if (st.generation.output->sent_bytes() || st.next_fallback >= st.generation.fallbacks.size() ||
      !provider_down(err))
    return false;
  claim_fallback(self, err);
  return true;
}

void claim_fallback(self_ptr self, core::error err) {
  auto& st = self->state;
  auto& g = st.generation;
  if (st.next_fallback >= g.fallbacks.size()) return give_up(self, std::move(err));
  auto next = g.fallbacks[st.next_fallback++];
  // The slot of the provider that failed goes back before another is taken.
  if (g.limiter) give_back(st.context, g.limiter, release_atom::value, g.holder);
  auto take = [=](admission& a) mutable {
    auto& st = self->state;
    if (st.over) return;
    if (a.refusal) {  // that one is full too: the next, or the first error
      core::log_warn("fallback refused")
          .kv("to", next.provider->id())
          .kv("error", a.refusal->message);
      return claim_fallback(self, std::move(err));
    }
    auto& g = st.generation;
    core::log_warn("fallback")
        .kv("from", g.provider->id())
        .kv("to", next.provider->id())
        .kv("class", core::wire_name(err.code))
        .kv("error", err.message);
    g.provider = next.provider;
    g.limiter = next.limiter;
    g.request.model = next.model;
    if (g.lean) g.lean->model = next.model;
    st.attempt = 0;
    add_degraded(st.degraded, "fallback:" + g.provider->id());
    st.context->metrics.fallbacks++;
    start_attempt(self);
  };
  if (!next.limiter || !g.holder) {
    admission granted;
    return take(granted);
  }
  admit(self, st.context, next.limiter, claim_atom::value, g.holder, take);
}

// Whether and when to try again after `err`; nullopt: do not.
std::optional<std::chrono::milliseconds> retry_delay(self_ptr self, const core::error& err) {
  auto& st = self->state;
  const auto& u = st.context->config.upstream;
  bool continuing = st.generation.output->sent_bytes() > 0;
  if (continuing && st.generation.provider->offline()) return std::nullopt;
  std::chrono::milliseconds delay{0};
  if (err.code == core::error_code::context_length) {
    // Without the context the prompt is shorter; a continuation would only be longer.
    if (continuing || st.lean || !st.generation.lean) return std::nullopt;
    st.lean = true;
    add_degraded(st.degraded, "retrieval");
  } else if (!err.retryable || st.attempt >= u.max_attempts) {
    return std::nullopt;
  } else if (err.retry_after_ms >= 0) {
    if (err.retry_after_ms > u.max_retry_after_ms) return std::nullopt;
    delay = std::chrono::milliseconds(err.retry_after_ms);
  } else {
    static thread_local std::mt19937 rng{std::random_device{}()};
    double jitter =
        std::uniform_real_distribution<double>(1 - u.backoff_jitter, 1 + u.backoff_jitter)(rng);
    delay = backoff_delay(st.attempt, u.backoff_ms, jitter);
  }
  if (self->clock().now() + delay >= st.generation.deadline) return std::nullopt;
  if (continuing) add_degraded(st.degraded, "continued");
  return delay;
}

call_supervisor_actor::behavior_type supervisor(self_ptr self,
                                                std::shared_ptr<engine_context> context,
                                                supervised_generation generation,
                                                generation_listener_actor listener) {
  auto& st = self->state;
  st.counted.start(context, &actor_census::supervisors);
  st.context = std::move(context);
  st.generation = std::move(generation);
  st.listener = std::move(listener);
  // A call that ends normally has already said how; one that crashes is a failure.
  on_child_exit(
      self,
      [=](const caf::actor_addr& child) { return !self->state.over && child == self->state.call; },
      [=](const std::string& why) { give_up(self, call_crashed(why)); });
  start_attempt(self);
  return {
      [=](finished_atom, call_summary& summary) {
        auto& st = self->state;
        if (st.over) return;
        st.generation.output->end_attempt();
        st.over = true;
        summary.degraded = st.degraded;
        st.context->metrics.degradations += static_cast<std::int64_t>(st.degraded.size());
        release_slot(self);
        self->send(st.listener, finished_atom::value, std::move(summary));
        self->quit();
      },
      [=](failed_atom, core::error& err) {
        auto& st = self->state;
        if (st.over) return;
        // No more of its text is taken; what it said before failing is kept.
        st.generation.output->end_attempt();
        auto delay = retry_delay(self, err);
        if (!delay) {
          if (fall_back(self, err)) return;
          return give_up(self, std::move(err));
        }
        auto sent_bytes = st.generation.output->sent_bytes();
        bool continuing = sent_bytes > 0;
        st.context->metrics.retries[static_cast<std::size_t>(err.code) % 16]++;
        if (continuing) st.context->metrics.continuations++;
        core::log_info(continuing ? "continue" : "retry")
            .kv("provider", st.generation.provider->id())
            .kv("attempt", st.attempt + 1)
            .kv("class", core::wire_name(err.code))
            .kv("delay_ms", static_cast<std::int64_t>(delay->count()))
            .kv("sent_bytes", static_cast<std::uint64_t>(sent_bytes))
            .kv("error", err.message);
        if (delay->count() == 0) return start_attempt(self);
        start_timer(self, st.backoff, st.generation.timers, *delay, [=] {
          if (!self->state.over) start_attempt(self);
        });
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
