#include "actors/session.hpp"

#include <chrono>

#include "actors/call_supervisor.hpp"
#include "actors/local_call.hpp"
#include "actors/provider_call.hpp"
#include "actors/timer.hpp"
#include "core/log.hpp"
#include "core/tokens.hpp"
#include "rag/extractive.hpp"
#include "rag/prompt.hpp"
#include "rag/research.hpp"

namespace askd::actors {
namespace {

using clock = std::chrono::steady_clock;

struct session_state {
  std::shared_ptr<engine_context> context;
  core::chat_request request;
  std::string request_id;
  std::string stream_id;  // "" for compat streams
  rag::repo_source source;
  std::shared_ptr<const engine_refs> refs;
  limiter_actor limiter;  // the provider's
  stream_actor stream;
  std::shared_ptr<stream_hub> hub;  // the stream's: every event is published there
  std::shared_ptr<const providers::provider> provider;
  caf::actor_addr call;  // the provider_call or local_call
  std::size_t context_chunks = 0;
  std::string retrieval = "none";  // what retrieval did, for the log line
  std::string retrieval_degraded;  // "retrieval:bm25" when the mode asked for could not run
  int attempts = 0;                // provider calls made (from the supervisor's summary)
  std::string degraded;            // what was given up, comma-separated
  clock::time_point started;
  caf::actor_clock::time_point deadline;
  bool ended = false;

  static inline const char* name = "session";
};

using self_ptr = generation_listener_actor::stateful_pointer<session_state>;

std::int64_t ms_since(clock::time_point t, clock::time_point now = clock::now()) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
}

// Time to the first delta published, -1 without one.
std::int64_t ttft_ms(const session_state& st, const stream_hub::delta_stats& d) {
  return d.first ? ms_since(st.started, *d.first) : -1;
}

// The request's one log line. Never the token, never the key.
void log_request(const session_state& st, std::string_view outcome, const core::error* err) {
  auto& m = st.context->metrics;
  if (outcome == "ok")
    m.requests_ok++;
  else if (outcome == "cancelled")
    m.requests_cancelled++;
  else
    m.requests_failed++;
  auto deltas = st.hub->deltas();
  auto line = core::log_info("request");
  line.kv("id", st.request_id)
      .kv("provider", st.request.provider)
      .kv("model", st.request.model)
      .kv("ttft_ms", ttft_ms(st, deltas))
      .kv("total_ms", ms_since(st.started))
      .kv("bytes", deltas.bytes)
      .kv("retrieval", st.retrieval)
      .kv("attempts", st.attempts)
      .kv("degraded", st.degraded.empty() ? std::string("none") : st.degraded)
      .kv("context_chunks", static_cast<std::uint64_t>(st.context_chunks))
      .kv("outcome", outcome);
  if (err) line.kv("error", err->message);
}

// The provider's place and slot go back before the client hears the end, so a client
// that asks again at once finds them free (the limiter's monitor would also free them,
// a moment later, when the session is gone).
void release_slot(self_ptr self) {
  auto& st = self->state;
  if (st.limiter) self->send(st.limiter, release_atom::value, caf::actor_cast<caf::actor>(self));
}

void end_with_error(self_ptr self, const core::error& err) {
  auto& st = self->state;
  st.ended = true;
  // A generation still running (the deadline passed) stops now: a normal quit would not
  // take linked actors with it.
  if (st.call) self->send_exit(st.call, caf::exit_reason::user_shutdown);
  release_slot(self);
  st.hub->publish(core::make_error(err));
  log_request(st, core::wire_name(err.code), &err);
  self->quit();
}

// Runs `start` once the provider's limiter gives this request a slot (at once, under
// the limit); a refusal ends the request.
template <class F>
void with_slot(self_ptr self, F start) {
  auto& st = self->state;
  self->request(st.limiter, caf::infinite, claim_atom::value, caf::actor_cast<caf::actor>(self))
      .then([=](admission& a) mutable {
        if (self->state.ended) return;
        if (a.refusal) return end_with_error(self, *a.refusal);
        start();
      });
}

// Prompt tokens the model's window must also leave for the answer.
constexpr std::int64_t answer_reserve_tokens = 4096;
// A question this long is answered without retrieval (deepwiki-open's rule).
constexpr std::int64_t max_question_tokens_for_retrieval = 8000;

// Builds the prompt around `context` (best first) and starts the generation.
void generate(self_ptr self, std::vector<rag::context_chunk> context) {
  auto& st = self->state;
  rag::prompt_inputs inputs;
  inputs.request = &st.request;
  const auto* lang = st.context->config.languages.name_of(st.request.language);
  inputs.language_name = lang ? *lang : "English";
  if (!st.request.file_path.empty() && st.source.local) {
    auto file = rag::read_repo_file(st.source.path, st.request.file_path,
                                    st.context->config.repo.max_file_bytes);
    if (!file) return end_with_error(self, file.err());
    inputs.file_content = std::move(*file);
  }
  inputs.context = std::move(context);
  auto listener = caf::actor_cast<generation_listener_actor>(self);
  auto output = std::make_shared<generation_output>(st.hub);
  // What the offline provider writes from the context (for it, or for a fallback to it);
  // a deep research round's starts with the round's heading, as a model's would.
  auto local_answer = [&] {
    auto research = rag::research_of(st.request.messages, st.request.max_rounds);
    auto pieces = rag::extractive_answer(
        research.active ? research.topic : st.request.messages.back().content, inputs.context,
        rag::repo_name(st.request.repo_url));
    if (research.active) pieces.insert(pieces.begin(), rag::research_heading(research) + "\n\n");
    return pieces;
  };
  if (st.provider->offline()) {
    st.context_chunks = inputs.context.size();
    return with_slot(self, [=, answer = local_answer()] {
      output->begin(1);
      self->state.call =
          spawn_local_call(*self, self->state.context, answer, output, 1, listener).address();
    });
  }
  // Fit the window: drop the lowest-ranked chunks until the whole prompt fits.
  auto messages = rag::assemble_prompt(inputs);
  const auto* model = st.provider->settings().find_model(st.request.model);
  if (model && model->context_window > 0) {
    auto budget = model->context_window - answer_reserve_tokens;
    while (!inputs.context.empty() && core::count_tokens(messages) > budget) {
      inputs.context.pop_back();
      messages = rag::assemble_prompt(inputs);
    }
  }
  st.context_chunks = inputs.context.size();
  supervised_generation gen;
  gen.provider = st.provider;
  gen.output = output;
  gen.request = {std::move(messages), st.request.model};
  gen.holder = caf::actor_cast<caf::actor>(self);
  gen.limiter = st.limiter;
  gen.deadline = st.deadline;
  gen.timers = st.refs->timers;
  // The request's fallback chain, else the configured one; each at its default model.
  const auto& chain =
      st.request.fallback.empty() ? st.context->config.generator.fallback : st.request.fallback;
  for (const auto& id : chain) {
    auto p = st.context->providers->find(id);
    if (!p || p == st.provider || p->missing_key()) continue;
    gen.fallbacks.push_back({p, p->settings().default_model, st.refs->limiters.at(id)});
    if (p->offline() && gen.local_answer.empty()) gen.local_answer = local_answer();
  }
  if (!inputs.context.empty()) {  // the fallback for a context-length refusal
    inputs.context.clear();
    gen.lean = providers::generation_request{rag::assemble_prompt(inputs), st.request.model};
  }
  with_slot(self, [=, gen = std::move(gen)]() mutable {
    self->state.call =
        spawn_call_supervisor(*self, self->state.context, std::move(gen), listener).address();
  });
}

// Retrieval first when the repository is indexable, then generation.
void retrieve_then_generate(self_ptr self) {
  auto& st = self->state;
  // A deep research round searches for its topic, not for "Continue the research".
  auto research = rag::research_of(st.request.messages, st.request.max_rounds);
  const auto question = research.active ? research.topic : st.request.messages.back().content;
  if (st.request.retrieval.mode == "none") return generate(self, {});
  if (core::count_tokens(question) > max_question_tokens_for_retrieval) {
    st.retrieval = "skipped:long_question";
    return generate(self, {});
  }
  retrieval_query q;
  q.source = st.source;
  q.token = st.request.token;
  q.filter = std::make_shared<const rag::file_filter>(st.context->config.repo, st.request);
  q.search.query = question;
  q.search.k = static_cast<std::size_t>(st.request.retrieval.top_k);
  q.search.mode = st.request.retrieval.mode;
  q.search.embedder = st.request.retrieval.embedder;
  q.search.progress_to = st.hub;
  auto started = clock::now();
  // Retrieval may wait for a clone and an index build: say so before the silence.
  st.hub->publish(core::make_progress("retrieve", 0, 1));
  self->request(st.refs->registry, caf::infinite, retrieve_atom::value, std::move(q))
      .then(
          [=](retrieval_reply& r) {
            auto& st = self->state;
            if (st.ended) return;
            if (r.failure) return end_with_error(self, *r.failure);
            st.hub->publish(core::make_progress("retrieve", 1, 1));
            std::vector<core::source_ref> sources;
            sources.reserve(r.chunks.size());
            for (const auto& c : r.chunks)
              sources.push_back({c.path, c.start_line, c.end_line, c.score});
            st.hub->publish(core::make_sources(sources));
            // The mode asked for, or what ran instead (a failing embedder: bm25).
            st.retrieval = (r.degraded.empty() ? st.request.retrieval.mode : "bm25") + ":" +
                           std::to_string(ms_since(started)) + "ms";
            if (!r.degraded.empty()) {
              st.retrieval_degraded = "retrieval:bm25";
              core::log_warn("retrieval degraded").kv("id", st.request_id).kv("detail", r.degraded);
            }
            generate(self, std::move(r.chunks));
          },
          [=](caf::error& err) {
            if (self->state.ended) return;
            end_with_error(self,
                           core::error::make(core::error_code::internal,
                                             "retrieval failed: " + self->system().render(err)));
          });
}

// The limiter's answer to this request: refused (the stream ends before it started, as a
// 429 on HTTP), or admitted (`meta` starts the stream, then the work).
void admitted(self_ptr self, admission& a) {
  auto& st = self->state;
  if (st.ended) return;
  if (a.refusal) {
    st.ended = true;
    st.context->metrics.refused[refusal_slot(429)]++;
    core::log_info("refused")
        .kv("id", st.request_id)
        .kv("provider", st.request.provider)
        .kv("status", 429)
        .kv("detail", a.refusal->message);
    st.hub->publish(core::make_error(*a.refusal));
    return self->quit();
  }
  st.hub->publish(core::make_meta(st.stream_id, st.request_id, st.request.provider,
                                  st.request.model, st.request.repo_url));
  if (auto missing = st.provider->missing_key()) return end_with_error(self, *missing);
  retrieve_then_generate(self);
}

generation_listener_actor::behavior_type session(
    self_ptr self, std::shared_ptr<engine_context> context, core::chat_request request,
    rag::repo_source source, std::string request_id, std::string stream_id,
    std::shared_ptr<const engine_refs> refs, stream_actor stream, std::shared_ptr<stream_hub> hub) {
  auto& st = self->state;
  st.context = std::move(context);
  st.request = std::move(request);
  st.source = std::move(source);
  st.refs = std::move(refs);
  st.request_id = std::move(request_id);
  st.stream_id = std::move(stream_id);
  st.stream = std::move(stream);
  st.hub = std::move(hub);
  st.started = clock::now();
  st.context->census.sessions++;
  auto ctx = st.context;
  self->attach_functor([ctx] { ctx->census.sessions--; });
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
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    // The provider call ended normally: its last message already said how.
    if (msg.reason == caf::exit_reason::normal) return;
    if (!st.ended && msg.source == st.call) {
      end_with_error(self,
                     core::error::make(core::error_code::internal,
                                       "the provider call crashed: " + to_string(msg.reason)));
      return;
    }
    // Killed before the end: the client went away (or the server is stopping).
    if (!st.ended) {
      st.ended = true;
      log_request(st, "cancelled", nullptr);
    }
    self->quit(std::move(msg.reason));
  });

  auto timeout = std::chrono::milliseconds(st.context->config.limits.request_timeout_ms);
  st.deadline = self->clock().now() + timeout;
  start_timer(self, st.refs->timers, timeout, [=] {
    auto& st = self->state;
    if (st.ended) return;
    end_with_error(
        self, core::error::make(core::error_code::timeout,
                                "the request took longer than its deadline of " +
                                    std::to_string(st.context->config.limits.request_timeout_ms) +
                                    " ms (limits.request_timeout_ms)" +
                                    (st.hub->deltas().first ? "; the answer is incomplete" : "")));
  });

  st.provider = st.context->providers->find(st.request.provider);
  auto limiter = st.refs->limiters.find(st.request.provider);
  if (!st.provider || limiter == st.refs->limiters.end()) {  // validation makes this unreachable
    end_with_error(self, core::error::make(core::error_code::internal,
                                           "provider " + st.request.provider + " vanished"));
  } else {
    st.limiter = limiter->second;
    self->request(st.limiter, caf::infinite, reserve_atom::value, caf::actor_cast<caf::actor>(self))
        .then([=](admission& a) { admitted(self, a); });
  }

  return {
      [=](finished_atom, call_summary& summary) {
        auto& st = self->state;
        if (st.ended) return;
        st.ended = true;
        core::done_info done;
        done.finish_reason = summary.finish_reason;
        done.usage = summary.usage;
        done.degraded = summary.degraded;
        if (!st.retrieval_degraded.empty())
          done.degraded.insert(done.degraded.begin(), st.retrieval_degraded);
        st.attempts = summary.attempts;
        for (const auto& d : done.degraded) st.degraded += (st.degraded.empty() ? "" : ",") + d;
        done.ttft_ms = ttft_ms(st, st.hub->deltas());
        done.total_ms = ms_since(st.started);
        release_slot(self);
        st.hub->publish(core::make_done(done));
        log_request(st, "ok", nullptr);
        self->quit();
      },
      [=](failed_atom, core::error& err) {
        if (self->state.ended) return;
        end_with_error(self, err);
      },
  };
}

}  // namespace

generation_listener_actor spawn_session(caf::actor_system& system,
                                        std::shared_ptr<engine_context> context,
                                        core::chat_request request, rag::repo_source source,
                                        std::string request_id, std::string stream_id,
                                        std::shared_ptr<const engine_refs> refs,
                                        stream_actor stream, std::shared_ptr<stream_hub> hub) {
  return system.spawn(session, std::move(context), std::move(request), std::move(source),
                      std::move(request_id), std::move(stream_id), std::move(refs),
                      std::move(stream), std::move(hub));
}

}  // namespace askd::actors
