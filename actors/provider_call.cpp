#include "actors/provider_call.hpp"

#include <atomic>
#include <chrono>

#include "actors/timer.hpp"

namespace askd::actors {
namespace {

using clock = std::chrono::steady_clock;

// The call's side on the curl thread: decodes the body where it arrives and offers each
// delta to the generation's output (which publishes it to the stream's hub), so text
// never waits for an actor. Only the end goes to the actor, as one message.
class upstream_reader : public providers::transfer_listener, public providers::decode_events {
 public:
  upstream_reader(provider_call_actor call, std::unique_ptr<providers::stream_decoder> decoder,
                  std::shared_ptr<generation_output> output, int attempt,
                  std::size_t max_error_body)
      : call_(std::move(call)),
        decoder_(std::move(decoder)),
        output_(std::move(output)),
        attempt_(attempt),
        max_error_body_(max_error_body) {
    touch();
  }

  // Read by the actor's deadline checks.
  clock::time_point last_activity() const {
    return clock::time_point(clock::duration(last_activity_.load(std::memory_order_relaxed)));
  }
  bool got_delta() const { return got_delta_.load(std::memory_order_relaxed); }
  // The engine has finished the transfer and forgotten it: nothing to cancel.
  bool complete() const { return complete_.load(std::memory_order_relaxed); }
  // The call has failed: no more of its text reaches the answer.
  void retire() { output_->retire(attempt_); }

  // -- transfer_listener (curl thread) --
  void on_headers(long status, std::string retry_after) override {
    status_ = status;
    retry_after_ = std::move(retry_after);
  }
  void on_body(std::string_view bytes) override {
    touch();
    if (reported_) return;
    if (status_ >= 300) {
      if (error_body_.size() < max_error_body_)
        error_body_.append(bytes.substr(0, max_error_body_ - error_body_.size()));
      return;
    }
    if (auto err = decoder_->feed(bytes, *this)) {
      // A malformed stream ends the call now; the actor's exit removes the transfer.
      report({}, std::move(err));
    }
  }
  void on_complete(providers::transfer_result result) override {
    complete_.store(true, std::memory_order_relaxed);
    if (reported_) return;
    std::optional<core::error> decode_error;
    if (status_ < 300 && !result.failure) decode_error = decoder_->finish(*this);
    report(std::move(result), std::move(decode_error));
  }

  // -- decode_events (curl thread, inside feed/finish) --
  void on_delta(std::string_view text) override {
    got_delta_.store(true, std::memory_order_relaxed);
    output_->offer(attempt_, text);
  }
  void on_usage(const core::token_usage& usage) override {
    usage_ = usage;
    usage_reported_ = true;
  }
  void on_finish_reason(std::string_view reason) override { finish_reason_.assign(reason); }

 private:
  void touch() {
    last_activity_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  void report(providers::transfer_result transfer, std::optional<core::error> decode_error) {
    reported_ = true;
    upstream_end end;
    end.transfer = std::move(transfer);
    end.decode_error = std::move(decode_error);
    end.status = status_;
    end.retry_after = std::move(retry_after_);
    end.error_body = std::move(error_body_);
    end.summary.finish_reason = std::move(finish_reason_);
    end.summary.usage = usage_;
    end.summary.usage_reported = usage_reported_;
    caf::anon_send(call_, up_done_atom::value, std::move(end));
  }

  provider_call_actor call_;
  std::unique_ptr<providers::stream_decoder> decoder_;
  std::shared_ptr<generation_output> output_;
  const int attempt_;
  const std::size_t max_error_body_;
  bool reported_ = false;
  // What the call's end reports (upstream_end), gathered as the response comes; only
  // this while it streams, not the whole of upstream_end.
  long status_ = 0;
  bool usage_reported_ = false;
  core::token_usage usage_;
  std::string retry_after_;
  std::string error_body_;
  std::string finish_reason_;
  std::atomic<clock::rep> last_activity_{0};
  std::atomic<bool> got_delta_{false};
  std::atomic<bool> complete_{false};
};

// The call's transfer in the curl engine. However the call ends (done, failed, killed with
// its parent), the transfer goes with the call's state (CAF destroys it as the actor
// exits); one the engine has finished is not woken up for.
struct transfer_hold {
  providers::curl_engine* curl = nullptr;
  providers::curl_engine::transfer_id id = 0;
  const upstream_reader* reader = nullptr;  // the state's, which outlives this
  transfer_hold() = default;
  transfer_hold(const transfer_hold&) = delete;
  transfer_hold& operator=(const transfer_hold&) = delete;
  ~transfer_hold() {
    if (curl && !reader->complete()) curl->cancel(id);
  }
};

struct provider_call_state {
  std::shared_ptr<engine_context> context;
  never_actor timers;
  std::shared_ptr<const providers::provider> provider;
  generation_listener_actor listener;
  std::shared_ptr<upstream_reader> reader;
  clock::time_point started;
  bool over = false;  // reported to the listener; later messages are ignored
  census_count counted;
  timer_slot check;        // the next first-token or idle deadline
  transfer_hold transfer;  // after the context and reader: it goes first

  static inline const char* name = "provider_call";
};

using self_ptr = provider_call_actor::stateful_pointer<provider_call_state>;

void fail(self_ptr self, core::error err) {
  auto& st = self->state;
  if (st.over) return;
  st.over = true;
  // A deadline decided this while bytes may still be arriving on the curl thread: from
  // here none of them is taken, so what the supervisor finds sent is what went out.
  st.reader->retire();
  self->send(st.listener, failed_atom::value, std::move(err));
  self->quit();
}

// The next moment a deadline could pass: first token, then idle between bytes.
clock::time_point next_deadline(const provider_call_state& st) {
  const auto& u = st.context->config.upstream;
  auto idle = st.reader->last_activity() + std::chrono::milliseconds(u.idle_timeout_ms);
  if (st.reader->got_delta()) return idle;
  return std::min(idle, st.started + std::chrono::milliseconds(u.first_token_timeout_ms));
}

void check(self_ptr self);

void schedule_check(self_ptr self) {
  auto wait = next_deadline(self->state) - clock::now();
  start_timer(self, self->state.check, self->state.timers,
              std::max<clock::duration>(wait, std::chrono::milliseconds(1)), [=] { check(self); });
}

// A deadline may have passed: fail with a timeout, or look again at the next one.
void check(self_ptr self) {
  auto& st = self->state;
  if (st.over) return;
  if (clock::now() < next_deadline(st)) return schedule_check(self);
  const auto& u = st.context->config.upstream;
  bool got_delta = st.reader->got_delta();
  bool first_token_late = !got_delta && clock::now() >= st.started + std::chrono::milliseconds(
                                                                         u.first_token_timeout_ms);
  auto what = first_token_late
                  ? "no first token within " + std::to_string(u.first_token_timeout_ms) + " ms"
                  : "no data for " + std::to_string(u.idle_timeout_ms) + " ms" +
                        (got_delta ? " mid-answer" : "");
  fail(self, core::error::make(core::error_code::timeout,
                               "provider " + st.provider->id() + " timed out: " + what));
}

provider_call_actor::behavior_type provider_call(
    self_ptr self, std::shared_ptr<engine_context> context, never_actor timers,
    std::shared_ptr<const providers::provider> provider, providers::upstream_request request,
    std::shared_ptr<generation_output> output, int attempt, generation_listener_actor listener) {
  auto& st = self->state;
  st.context = std::move(context);
  st.timers = std::move(timers);
  st.provider = std::move(provider);
  st.listener = std::move(listener);
  st.started = clock::now();
  st.reader = std::make_shared<upstream_reader>(caf::actor_cast<provider_call_actor>(self),
                                                st.provider->decoder(), std::move(output), attempt,
                                                st.context->config.upstream.max_error_body_bytes);
  st.counted.start(st.context, &actor_census::provider_calls);
  st.transfer.id = st.context->curl->start(std::move(request), st.reader);
  st.transfer.reader = st.reader.get();
  st.transfer.curl = st.context->curl;
  schedule_check(self);

  return {
      [=](up_done_atom, upstream_end& end) {
        auto& st = self->state;
        if (st.over) return;
        if (end.decode_error) return fail(self, std::move(*end.decode_error));
        if (end.status >= 300)
          return fail(self, st.provider->classify(end.status, end.error_body, end.retry_after));
        if (end.transfer.failure) {
          auto err = std::move(*end.transfer.failure);
          if (st.reader->got_delta()) err.message += " (after part of the answer)";
          return fail(self, std::move(err));
        }
        st.over = true;
        if (end.summary.finish_reason.empty()) end.summary.finish_reason = "stop";
        self->send(st.listener, finished_atom::value, std::move(end.summary));
        self->quit();
      },
  };
}

}  // namespace

provider_call_actor spawn_provider_call(caf::local_actor& parent,
                                        std::shared_ptr<engine_context> context, never_actor timers,
                                        std::shared_ptr<const providers::provider> provider,
                                        providers::upstream_request request,
                                        std::shared_ptr<generation_output> output, int attempt,
                                        generation_listener_actor listener) {
  return parent.spawn<caf::linked>(provider_call, std::move(context), std::move(timers),
                                   std::move(provider), std::move(request), std::move(output),
                                   attempt, std::move(listener));
}

}  // namespace askd::actors
