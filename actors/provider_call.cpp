#include "actors/provider_call.hpp"

#include <chrono>

#include "actors/timer.hpp"

namespace askd::actors {
namespace {

using clock = std::chrono::steady_clock;

struct provider_call_state {
  std::shared_ptr<engine_context> context;
  never_actor timers;
  std::shared_ptr<const providers::provider> provider;
  generation_listener_actor listener;
  providers::curl_engine::transfer_id transfer = 0;
  std::unique_ptr<providers::stream_decoder> decoder;
  std::int64_t status = 0;
  std::string error_body;  // a non-2xx body, kept (bounded) for classification
  std::string retry_after;
  call_summary summary;
  clock::time_point started;
  clock::time_point last_activity;
  bool got_delta = false;
  bool over = false;  // reported to the listener; later messages are ignored

  static inline const char* name = "provider_call";
};

using self_ptr = provider_call_actor::stateful_pointer<provider_call_state>;

// Relays the curl thread's callbacks into the actor's mailbox, in order.
class mailbox_listener : public providers::transfer_listener {
 public:
  explicit mailbox_listener(provider_call_actor call) : call_(std::move(call)) {}
  void on_headers(long status, std::string retry_after) override {
    caf::anon_send(call_, up_head_atom::value, static_cast<std::int64_t>(status),
                   std::move(retry_after));
  }
  void on_body(std::string_view bytes) override {
    caf::anon_send(call_, up_body_atom::value, std::string(bytes));
  }
  void on_complete(providers::transfer_result result) override {
    caf::anon_send(call_, up_done_atom::value, std::move(result));
  }

 private:
  provider_call_actor call_;
};

// Forwards what the decoder finds to the listener.
struct forward_events : providers::decode_events {
  self_ptr self;
  explicit forward_events(self_ptr s) : self(s) {}
  void on_delta(std::string_view text) override {
    self->state.got_delta = true;
    self->send(self->state.listener, delta_atom::value, std::string(text));
  }
  void on_usage(const core::token_usage& usage) override {
    self->state.summary.usage = usage;
    self->state.summary.usage_reported = true;
  }
  void on_finish_reason(std::string_view reason) override {
    self->state.summary.finish_reason.assign(reason);
  }
};

void fail(self_ptr self, core::error err) {
  auto& st = self->state;
  if (st.over) return;
  st.over = true;
  self->send(st.listener, failed_atom::value, std::move(err));
  self->quit();
}

void succeed(self_ptr self) {
  auto& st = self->state;
  if (st.over) return;
  st.over = true;
  if (st.summary.finish_reason.empty()) st.summary.finish_reason = "stop";
  self->send(st.listener, finished_atom::value, st.summary);
  self->quit();
}

// The next moment a deadline could pass: first token, then idle between bytes.
clock::time_point next_deadline(const provider_call_state& st) {
  const auto& u = st.context->config.upstream;
  auto idle = st.last_activity + std::chrono::milliseconds(u.idle_timeout_ms);
  if (st.got_delta) return idle;
  return std::min(idle, st.started + std::chrono::milliseconds(u.first_token_timeout_ms));
}

void check(self_ptr self);

void schedule_check(self_ptr self) {
  auto wait = next_deadline(self->state) - clock::now();
  start_timer(self, self->state.timers,
              std::max<clock::duration>(wait, std::chrono::milliseconds(1)), [=] { check(self); });
}

// A deadline may have passed: fail with a timeout, or look again at the next one.
void check(self_ptr self) {
  auto& st = self->state;
  if (st.over) return;
  if (clock::now() < next_deadline(st)) return schedule_check(self);
  const auto& u = st.context->config.upstream;
  bool first_token_late =
      !st.got_delta &&
      clock::now() >= st.started + std::chrono::milliseconds(u.first_token_timeout_ms);
  auto what = first_token_late
                  ? "no first token within " + std::to_string(u.first_token_timeout_ms) + " ms"
                  : "no data for " + std::to_string(u.idle_timeout_ms) + " ms" +
                        (st.got_delta ? " mid-answer" : "");
  fail(self, core::error::make(core::error_code::timeout,
                               "provider " + st.provider->id() + " timed out: " + what));
}

provider_call_actor::behavior_type provider_call(
    self_ptr self, std::shared_ptr<engine_context> context, never_actor timers,
    std::shared_ptr<const providers::provider> provider, providers::generation_request request,
    generation_listener_actor listener) {
  auto& st = self->state;
  st.context = std::move(context);
  st.timers = std::move(timers);
  st.provider = std::move(provider);
  st.listener = std::move(listener);
  st.decoder = st.provider->decoder();
  st.started = st.last_activity = clock::now();
  st.context->census.provider_calls++;
  auto* curl = st.context->curl;
  auto* census = &st.context->census;
  auto ctx_keepalive = st.context;
  st.transfer =
      curl->start(st.provider->build(request),
                  std::make_shared<mailbox_listener>(caf::actor_cast<provider_call_actor>(self)));
  auto transfer = st.transfer;
  // However the call ends (done, failed, killed with its parent), the handle goes.
  self->attach_functor([curl, transfer, census, ctx_keepalive] {
    curl->cancel(transfer);
    census->provider_calls--;
  });
  schedule_check(self);

  return {
      [=](up_head_atom, std::int64_t status, std::string retry_after) {
        self->state.status = status;
        self->state.retry_after = std::move(retry_after);
      },
      [=](up_body_atom, std::string bytes) {
        auto& st = self->state;
        if (st.over) return;
        st.last_activity = clock::now();
        if (st.status >= 300) {
          auto cap = st.context->config.upstream.max_error_body_bytes;
          if (st.error_body.size() < cap)
            st.error_body.append(bytes, 0, std::min(bytes.size(), cap - st.error_body.size()));
          return;
        }
        forward_events out(self);
        if (auto err = st.decoder->feed(bytes, out)) fail(self, std::move(*err));
      },
      [=](up_done_atom, providers::transfer_result& result) {
        auto& st = self->state;
        if (st.over) return;
        if (st.status >= 300) {
          fail(self, st.provider->classify(st.status, st.error_body, st.retry_after));
          return;
        }
        if (result.failure) {
          auto err = std::move(*result.failure);
          if (st.got_delta) err.message += " (after part of the answer)";
          fail(self, std::move(err));
          return;
        }
        forward_events out(self);
        if (auto err = st.decoder->finish(out)) {
          fail(self, std::move(*err));
          return;
        }
        succeed(self);
      },
  };
}

}  // namespace

provider_call_actor spawn_provider_call(caf::local_actor& parent,
                                        std::shared_ptr<engine_context> context, never_actor timers,
                                        std::shared_ptr<const providers::provider> provider,
                                        providers::generation_request request,
                                        generation_listener_actor listener) {
  return parent.spawn<caf::linked>(provider_call, std::move(context), std::move(timers),
                                   std::move(provider), std::move(request), std::move(listener));
}

}  // namespace askd::actors
