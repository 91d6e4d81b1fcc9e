#include "actors/session.hpp"

#include <chrono>

#include "actors/children.hpp"
#include "actors/limiter.hpp"
#include "actors/replication.hpp"
#include "actors/research.hpp"
#include "actors/round.hpp"
#include "actors/timer.hpp"
#include "core/log.hpp"
#include "rag/research.hpp"

namespace askd::actors {
namespace {

using clock = std::chrono::steady_clock;

// A compat stream is its session (engine::start_chat): counted as a stream (the drain
// waits for it) and, like a stream whose producer is gone, ended with an error if the
// session goes without its end (its state goes as it exits).
struct compat_stream {
  census_count counted;
  std::shared_ptr<stream_hub> hub;  // none: not a compat stream
  ~compat_stream() {
    if (hub && !hub->ended())
      hub->publish(core::make_error(
          core::error::make(core::error_code::internal, "the answer stopped unexpectedly")));
  }
};

struct session_state;
using self_ptr = session_actor::stateful_pointer<session_state>;

// How the session hears from the round it runs.
struct session_reports final : round_reports {
  self_ptr self = nullptr;
  void retrieved(round_retrieval& r) override;
  void finished(call_summary& summary) override;
  void failed(core::error& err) override;
};

struct session_state {
  // A plain question's one round, run here: no actor of its own (bench/RESULTS.md, sixth
  // pass). Its generation's messages come to the session, which hands them over.
  round_state round;
  session_reports reports;
  bool runs_round = false;
  // What the session and its work share (the context, the stream's hub where every event
  // is published, the provider and its limiter, the deadline, the request id): its
  // round's, one copy for both; a research gets a copy.
  round_env& env = round.env;
  std::shared_ptr<const core::chat_request> request;  // shared with its rounds
  std::string stream_id;                              // "" for compat streams
  stream_actor stream;  // none for compat: the session is the stream (engine.cpp)
  std::shared_ptr<const takeover> resumed;  // taken over from a lost node: where it goes on
  caf::actor_addr call;                     // the research (none for a plain question)
  std::size_t context_chunks = 0;           // in the prompts, over all rounds
  std::string retrieval = "none";  // what retrieval did (the last round's), for the log line
  clock::time_point started;
  bool ended = false;
  census_count counted;
  timer_slot deadline;  // limits.request_timeout_ms
  compat_stream compat;

  static inline const char* name = "session";
};

std::int64_t ms_since(clock::time_point t, clock::time_point now = clock::now()) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
}

// Time to the first delta published, -1 without one.
std::int64_t ttft_ms(const session_state& st, const stream_hub::delta_stats& d) {
  return d.first ? ms_since(st.started, *d.first) : -1;
}

// The request's one log line. Never the token, never the key. `done`: how an answer that
// finished ended (what was given up, how the answer cache served it). Its attempts are
// the provider calls the stream's supervisors started, however it ended.
void log_request(const session_state& st, std::string_view outcome, const core::error* err,
                 const call_summary* done = nullptr) {
  auto& m = st.env.context->metrics;
  if (outcome == "ok")
    m.requests_ok++;
  else if (outcome == "cancelled")
    m.requests_cancelled++;
  else
    m.requests_failed++;
  auto deltas = st.env.hub->deltas();
  auto line = core::log_info("request");
  line.kv("id", st.env.request_id)
      .kv("provider", st.request->provider)
      .kv("model", st.request->model)
      .kv("ttft_ms", ttft_ms(st, deltas))
      .kv("total_ms", ms_since(st.started))
      .kv("bytes", deltas.bytes)
      .kv("retrieval", st.retrieval)
      .kv("attempts", st.env.hub->attempts());
  std::string degraded;
  if (done)
    for (const auto& d : done->degraded) degraded += (degraded.empty() ? "" : ",") + d;
  line.kv("degraded", degraded.empty() ? std::string("none") : degraded)
      .kv("context_chunks", static_cast<std::uint64_t>(st.context_chunks));
  if (done && !done->cache.empty()) line.kv("cache", done->cache);
  line.kv("outcome", outcome);
  if (err) line.kv("error", err->message);
}

// The provider's place and slot go back before the client hears the end, so a client
// that asks again at once finds them free (what the limiter attached to the session
// would also free them, a moment later, when the session is gone).
void release_slot(self_ptr self) {
  auto& st = self->state;
  if (st.env.limiter)
    give_back(st.env.context, st.env.limiter, release_atom::value,
              caf::actor_cast<caf::actor>(self));
}

void end_with_error(self_ptr self, const core::error& err) {
  auto& st = self->state;
  st.ended = true;
  // A generation still running (the deadline passed) stops now: a normal quit would not
  // take linked actors with it.
  if (st.call) self->send_exit(st.call, caf::exit_reason::user_shutdown);
  if (st.round.call) self->send_exit(st.round.call, caf::exit_reason::user_shutdown);
  release_slot(self);
  st.env.hub->publish(core::make_error(err));
  log_request(st, core::wire_name(err.code), &err);
  self->quit();
}

// What the round (the research's last, or ours) found for its prompt.
void note_retrieval(self_ptr self, round_retrieval& r) {
  auto& st = self->state;
  st.retrieval = std::move(r.how);
  st.context_chunks += r.chunks;
}

// The answer is whole: `done`, and the session's end.
void answer_done(self_ptr self, call_summary& summary) {
  auto& st = self->state;
  if (st.ended) return;
  st.ended = true;
  core::done_info done;
  done.finish_reason = summary.finish_reason;
  done.usage = summary.usage;
  done.degraded = summary.degraded;
  if (st.resumed) {
    if (!st.resumed->text.empty() || st.resumed->rounds.size() > 1)
      add_degraded(done.degraded, "continued");
    add_degraded(done.degraded, "failover");
  }
  done.cached = summary.cache == "hit";
  done.ttft_ms = ttft_ms(st, st.env.hub->deltas());
  done.total_ms = ms_since(st.started);
  release_slot(self);
  st.env.hub->publish(core::make_done(done));
  summary.degraded = done.degraded;  // with the failover's, for the log line
  log_request(st, "ok", nullptr, &summary);
  self->quit();
}

// The work itself: a research of several rounds (its actor is the call), or the one round
// of a plain question, run here.
void answer(self_ptr self) {
  auto& st = self->state;
  st.env.holder = caf::actor_cast<caf::actor>(self);
  const auto& request = st.request;
  if (request->deep_research) {
    st.call = spawn_research(*self, st.env, request, caf::actor_cast<round_listener_actor>(self),
                             st.resumed)
                  .address();
    return;
  }
  // A client-driven research round (deepwiki-open's): numbered by the history.
  round_spec spec;
  spec.research = rag::research_of(request->messages, request->max_rounds);
  spec.request = request;
  spec.output = std::make_shared<generation_output>(st.env.hub);
  if (const auto& t = st.resumed) {
    // The lost node's clients saw the stage, heading and sources of this (one) round.
    spec.resumed = spec.heading_sent = true;
    spec.sources_sent = t->sources_sent;
    if (!t->text.empty()) spec.output->seed(t->text, st.env.provider->offline());
  }
  st.runs_round = true;
  st.round.spec = std::move(spec);
  st.reports.self = self;
  st.round.reports = &st.reports;
  start_round(self, st.round);
}

void session_reports::retrieved(round_retrieval& r) {
  note_retrieval(self, r);
}
void session_reports::finished(call_summary& summary) {
  answer_done(self, summary);
}
void session_reports::failed(core::error& err) {
  if (!self->state.ended) end_with_error(self, err);
}

// The limiter's answer to this request: refused (the stream ends before it started, as a
// 429 on HTTP), or admitted (`meta` starts the stream, then the work).
void admitted(self_ptr self, admission& a) {
  auto& st = self->state;
  if (st.ended) return;
  if (a.refusal) {
    st.ended = true;
    st.env.context->metrics.refused[refusal_slot(429)]++;
    core::log_info("refused")
        .kv("id", st.env.request_id)
        .kv("provider", st.request->provider)
        .kv("status", 429)
        .kv("detail", a.refusal->message);
    st.env.hub->publish(core::make_error(*a.refusal));
    return self->quit();
  }
  if (!st.resumed)  // a takeover's clients have had it
    st.env.hub->publish(core::make_meta(st.stream_id, st.env.request_id, st.request->provider,
                                        st.request->model, st.request->repo_url));
  if (auto missing = st.env.provider->missing_key()) return end_with_error(self, *missing);
  answer(self);
}

session_actor::behavior_type session(self_ptr self, std::shared_ptr<engine_context> context,
                                     std::shared_ptr<const core::chat_request> request,
                                     rag::repo_source source, std::string request_id,
                                     std::string stream_id, std::shared_ptr<const engine_refs> refs,
                                     stream_actor stream, std::shared_ptr<stream_hub> hub,
                                     std::shared_ptr<const takeover> resumed) {
  auto& st = self->state;
  st.resumed = std::move(resumed);
  st.env.context = std::move(context);
  st.request = std::move(request);
  st.env.source = std::move(source);
  st.env.refs = std::move(refs);
  st.env.request_id = std::move(request_id);
  st.stream_id = std::move(stream_id);
  st.stream = std::move(stream);
  st.env.hub = std::move(hub);
  st.started = clock::now();
  st.counted.start(st.env.context, &actor_census::sessions);
  if (st.stream) {
    // Registered before any event goes out, so the stream can always cancel us; and if
    // the stream is gone first (its client left), we stop too.
    self->send(st.stream, producer_atom::value, caf::actor_cast<caf::actor>(self));
    self->monitor(st.stream);
    self->set_down_handler([=](caf::down_msg&) {
      auto& st = self->state;
      if (st.ended) return;
      st.ended = true;
      log_request(st, "cancelled", nullptr);
      self->quit(caf::exit_reason::user_shutdown);
    });
  } else {
    // A compat stream is this session, cancelled by its connection's exit message.
    st.compat.counted.start(st.env.context, &actor_census::streams);
    st.compat.hub = st.env.hub;
  }
  // The session runs a plain question's round itself (retrieval's reply, the prompt, the
  // local provider's extract): code there that throws ends the request as the crash of a
  // round actor did, with one error and the log line, not as a dead session.
  self->set_exception_handler([=](caf::scheduled_actor*, std::exception_ptr& thrown) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    if (!self->state.ended)
      end_with_error(self,
                     core::error::make(core::error_code::internal, "the answer failed: " + what));
    return caf::make_error(caf::exit_reason::user_shutdown);
  });
  on_child_exit(
      self,
      [=](const caf::actor_addr& child) {
        auto& st = self->state;
        return !st.ended && (child == st.call || round_call(st.round, child));
      },
      [=](const std::string& why) {
        auto& st = self->state;
        if (st.runs_round) return round_failed(st.round, call_crashed(why));
        end_with_error(self, call_crashed(why));
      },
      [=] {
        // Killed before the end: the client went away (or the server is stopping).
        auto& st = self->state;
        if (st.ended) return;
        st.ended = true;
        log_request(st, "cancelled", nullptr);
      });

  auto timeout = std::chrono::milliseconds(st.env.context->config.limits.request_timeout_ms);
  st.env.deadline = self->clock().now() + timeout;
  start_timer(self, st.deadline, st.env.refs->timers, timeout, [=] {
    auto& st = self->state;
    if (st.ended) return;
    end_with_error(self, core::error::make(
                             core::error_code::timeout,
                             "the request took longer than its deadline of " +
                                 std::to_string(st.env.context->config.limits.request_timeout_ms) +
                                 " ms (limits.request_timeout_ms)" +
                                 (st.env.hub->deltas().first ? "; the answer is incomplete" : "")));
  });

  st.env.provider = st.env.context->providers->find(st.request->provider);
  auto limiter = st.env.refs->limiters.find(st.request->provider);
  if (!st.env.provider ||
      limiter == st.env.refs->limiters.end()) {  // validation makes this unreachable
    end_with_error(self, core::error::make(core::error_code::internal,
                                           "provider " + st.request->provider + " vanished"));
  } else {
    st.env.limiter = limiter->second;
    admit(self, st.env.context, st.env.limiter, reserve_atom::value,
          caf::actor_cast<caf::actor>(self), [=](admission& a) { admitted(self, a); });
  }

  // The research's messages, or the round's generation's (handed to the round).
  return {
      [=](retrieved_atom, round_retrieval& r) { note_retrieval(self, r); },
      [=](finished_atom, call_summary& summary) {
        auto& st = self->state;
        if (st.runs_round) return round_finished(st.round, summary);
        answer_done(self, summary);
      },
      [=](failed_atom, core::error& err) {
        auto& st = self->state;
        if (st.runs_round) return round_failed(st.round, std::move(err));
        if (st.ended) return;
        end_with_error(self, err);
      },
      [=](lead_atom) {
        auto& st = self->state;
        if (st.runs_round) round_lead(st.round);
      },
  };
}

}  // namespace

session_actor spawn_session(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            std::shared_ptr<const core::chat_request> request,
                            rag::repo_source source, std::string request_id, std::string stream_id,
                            std::shared_ptr<const engine_refs> refs, stream_actor stream,
                            std::shared_ptr<stream_hub> hub,
                            std::shared_ptr<const takeover> resumed) {
  return system.spawn(session, std::move(context), std::move(request), std::move(source),
                      std::move(request_id), std::move(stream_id), std::move(refs),
                      std::move(stream), std::move(hub), std::move(resumed));
}

}  // namespace askd::actors
