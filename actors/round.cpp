#include "actors/round.hpp"

#include <algorithm>
#include <chrono>

#include "actors/answer_cache.hpp"
#include "actors/call_supervisor.hpp"
#include "actors/children.hpp"
#include "actors/limiter.hpp"
#include "actors/local_call.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/tokens.hpp"
#include "rag/extractive.hpp"
#include "rag/local_wiki.hpp"
#include "rag/prompt.hpp"

namespace askd::actors {
namespace {

using clock = std::chrono::steady_clock;

// The round is over: what its output still holds goes out, and the slot goes back
// (the local provider's; a supervisor gave its own back already) — the session keeps
// its place.
void finish(round_state& st) {
  st.over = true;
  st.spec.output->end_attempt();
  give_back(st.env.context, st.env.limiter, yield_atom::value, st.env.holder);
}

void fail(round_state& st, core::error err) {
  if (st.over) return;
  finish(st);
  if (!st.flight.following) st.flight.let_go();
  st.reports->failed(err);
}

// Runs `start` once the provider's limiter gives the holder a slot (at once, under the
// limit); a refusal fails the round.
template <class Host, class F>
void with_slot(Host* self, round_state& st, F start) {
  auto& env = st.env;
  admit(self, env.context, env.limiter, claim_atom::value, env.holder,
        [r = &st, start](admission& a) mutable {
          if (r->over) return;
          if (a.refusal) return fail(*r, *a.refusal);
          start();
        });
}

// What the round retrieves for: a research round's query, else the question (the last
// message).
const std::string& query_of(const round_spec& spec) {
  return spec.research.active ? spec.research.query : spec.request->messages.back().content;
}

// A question this long is answered without retrieval (deepwiki-open's rule).
constexpr std::int64_t max_question_tokens_for_retrieval = 8000;

// What the offline provider writes from the context (for it, or for a fallback to it):
// an extract for the round's query; a research round's under its heading (unless askd
// wrote it), ending with what it would look at next (but the conclusion).
std::vector<std::string> local_answer(const round_spec& spec,
                                      const std::vector<rag::context_chunk>& context) {
  // deepwiki-open's frontend asking for its wiki's structure gets one built from the
  // file tree it sent (rag/local_wiki.hpp).
  if (!spec.research.active)
    if (auto wiki = rag::local_wiki_structure(query_of(spec))) return {std::move(*wiki)};
  auto pieces =
      rag::extractive_answer(query_of(spec), context, rag::repo_name(spec.request->repo_url));
  const auto& r = spec.research;
  if (!r.active) return pieces;
  if (!spec.local_preface.empty()) pieces.insert(pieces.begin(), spec.local_preface);
  if (!spec.heading_written) pieces.insert(pieces.begin(), rag::research_heading(r) + "\n\n");
  if (r.kind != rag::research_kind::conclusion) {
    // New leads only: not what this round or an earlier one looked for.
    auto known = query_of(spec) + " " + r.topic;
    for (const auto& m : spec.request->messages)
      if (m.role == "assistant") known += " " + rag::next_focus(m.content);
    const auto& last = pieces.back();
    bool blank = last.size() >= 2 && last.compare(last.size() - 2, 2, "\n\n") == 0;
    pieces.push_back((blank ? "" : "\n") + rag::extractive_leads(known, context) + "\n");
  }
  return pieces;
}

// The listener hears what went into the prompt: retrieval's report and the chunks used.
void report_context(round_state& st, const std::vector<rag::context_chunk>& context) {
  auto& r = st.report;
  r.chunks = context.size();
  for (const auto& c : context)
    if (std::find(r.paths.begin(), r.paths.end(), c.path) == r.paths.end())
      r.paths.push_back(c.path);
  st.reports->retrieved(r);
}

// What a round answered without an upstream call of its own reports: how the
// generation it replayed or followed ended.
call_summary summary_of(const flight_end& end) {
  call_summary s;
  s.finish_reason = end.finish_reason;
  s.usage = end.usage;
  s.usage_reported = end.usage_reported;
  s.degraded = end.degraded;
  return s;
}

// The answer cache's key for the round's generation; "" when the cache is not asked.
std::string cache_key(const round_state& st, const providers::generation_request& prompt) {
  const auto& cache = st.env.context->answers;
  const auto& request = *st.spec.request;
  // A takeover's answer was begun by the lost node: it goes on from there.
  if (!cache || !cache->enabled() || !request.cache || st.spec.resumed ||
      st.spec.output->sent_bytes())
    return {};
  return answer_cache::key_of(st.env.provider->id(), prompt.model, prompt.messages, request.token);
}

// The answer cache (actors/answer_cache.hpp), asked with `key` (cache_key). True when
// the round is answered from it: replayed (a finished message to itself follows), or
// following an identical question's generation in flight (`alone` runs if that one goes
// without an answer). False: the round asks upstream, recording its answer when it leads.
template <class Host>
bool from_cache(Host* self, round_state& st, const std::string& key, std::function<void()> alone) {
  if (key.empty()) return false;
  const auto& cache = st.env.context->answers;
  auto found = cache->find(key);
  auto& output = *st.spec.output;
  if (found.hit) {
    st.cache = "hit";
    output.begin(1);
    found.hit->each_delta([&](std::string_view d) { output.offer(1, d); });
    self->send(self, finished_atom::value, summary_of(found.hit->end));
    return true;
  }
  if (!found.flight) return false;
  if (found.lead) {
    st.cache = "miss";
    st.flight.flight = found.flight;
    output.record_to(found.flight);
    return false;
  }
  auto me = caf::actor_cast<typename Host::actor_hdl>(self);
  bool joined = found.flight->join(st.spec.output, [me](const std::optional<flight_end>& end) {
    if (!end) return caf::anon_send(me, lead_atom::value);
    caf::anon_send(me, finished_atom::value, summary_of(*end));
  });
  if (!joined) return false;  // it ended meanwhile, or is too long to be shared: alone
  cache->shared++;
  st.cache = "shared";
  st.flight.flight = found.flight;
  st.flight.following = true;
  st.flight.output = st.spec.output.get();
  st.go_alone = std::move(alone);
  return true;
}

// The prompt a generation keeps for the request's life (a retry builds its body from it
// again): its texts at their size, not with what growing by doubling left over (a third of
// the system prompt; up to half of a long context). Once, for the prompt kept, not for
// each one fitting the window tried.
std::vector<core::chat_message> kept(std::vector<core::chat_message> messages) {
  for (auto& m : messages) m.content.shrink_to_fit();
  return messages;
}

// Builds the prompt around `context` (best first) and starts the generation.
template <class Host>
void generate(Host* self, round_state& st, std::vector<rag::context_chunk> context) {
  const auto& env = st.env;
  const auto& request = *st.spec.request;
  rag::prompt_inputs inputs;
  inputs.request = &request;
  const auto* lang = env.context->config.languages.name_of(request.language);
  inputs.language_name = lang ? *lang : "English";
  inputs.research = st.spec.research;
  inputs.heading_written = st.spec.heading_written;
  inputs.context = std::move(context);
  if (!request.file_path.empty() && env.source.local) {
    auto file = rag::read_repo_file(env.source.path, request.file_path,
                                    env.context->config.repo.max_file_bytes);
    if (!file) {
      report_context(st, inputs.context);
      return fail(st, file.err());
    }
    inputs.file_content = std::move(*file);
  }
  auto listener = caf::actor_cast<generation_listener_actor>(self);
  auto output = st.spec.output;
  if (env.provider->offline()) {
    report_context(st, inputs.context);
    return with_slot(self, st, [=, r = &st, answer = local_answer(st.spec, inputs.context)] {
      output->count_attempt();
      output->begin(1);
      r->call = spawn_local_call(*self, r->env.context, answer, output, 1, listener).address();
    });
  }
  // Fit the window: drop the lowest-ranked chunks until the whole prompt fits.
  auto messages = rag::assemble_prompt(inputs);
  const auto* model = env.provider->settings().find_model(request.model);
  if (model && model->context_window > 0) {
    auto budget = model->context_window - answer_reserve_tokens;
    while (!inputs.context.empty() && core::count_tokens(messages) > budget) {
      inputs.context.pop_back();
      messages = rag::assemble_prompt(inputs);
    }
  }
  report_context(st, inputs.context);
  supervised_generation gen;
  gen.provider = env.provider;
  gen.output = output;
  gen.request = {kept(std::move(messages)), request.model};
  gen.holder = env.holder;
  gen.limiter = env.limiter;
  gen.deadline = env.deadline;
  gen.timers = env.refs->timers;
  // The request's fallback chain, else the configured one; each at its default model.
  const auto& chain =
      request.fallback.empty() ? env.context->config.generator.fallback : request.fallback;
  for (const auto& id : chain) {
    auto p = env.context->providers->find(id);
    if (!p || p == env.provider || p->missing_key()) continue;
    gen.fallbacks.push_back({p, p->settings().default_model, env.refs->limiters.at(id)});
    if (p->offline() && gen.local_answer.empty())
      gen.local_answer = local_answer(st.spec, inputs.context);
  }
  if (!inputs.context.empty()) {  // the fallback for a context-length refusal
    inputs.context.clear();
    gen.lean = providers::generation_request{kept(rag::assemble_prompt(inputs)), request.model};
  }
  auto key = cache_key(st, gen.request);
  // Shared, not copied, by the callbacks that may start it (a copy of `start` is kept for
  // a follower that may have to go alone, and with_slot copies its callback): the prompts
  // in it can be tens of KB. It starts once, and moves into its supervisor then.
  auto shared = std::make_shared<supervised_generation>(std::move(gen));
  auto start = [=, r = &st] {
    with_slot(self, *r, [=] {
      r->call =
          spawn_call_supervisor(*self, r->env.context, std::move(*shared), listener).address();
    });
  };
  if (!from_cache(self, st, key, start)) start();
}

// Retrieval first when the repository is indexable, then generation.
template <class Host>
void retrieve_then_generate(Host* self, round_state& st) {
  const auto& request = *st.spec.request;
  const auto& question = query_of(st.spec);
  if (request.retrieval.mode == "none") return generate(self, st, {});
  if (core::count_tokens(question) > max_question_tokens_for_retrieval) {
    st.report.how = "skipped:long_question";
    return generate(self, st, {});
  }
  retrieval_query q;
  q.request = st.spec.request;
  q.source = st.env.source;
  q.token = request.token;
  q.filter = std::make_shared<const rag::file_filter>(st.env.context->config.repo, request);
  q.search.query = question;
  q.search.k = static_cast<std::size_t>(request.retrieval.top_k);
  q.search.mode = request.retrieval.mode;
  q.search.embedder = request.retrieval.embedder;
  bool quiet = st.spec.sources_sent;  // a takeover's clients have seen this retrieval
  if (!quiet)
    q.search.on_progress = [hub = st.env.hub](const std::string& phase, std::int64_t done,
                                              std::int64_t total) {
      hub->publish(core::make_progress(phase, done, total));
    };
  auto started = clock::now();
  // Retrieval may wait for a clone and an index build: say so before the silence.
  if (!quiet) st.env.hub->publish(core::make_progress("retrieve", 0, 1));
  self->request(st.env.refs->registry, caf::infinite, retrieve_atom::value, std::move(q))
      .then(
          [=, rs = &st](retrieval_reply& r) {
            auto& st = *rs;
            if (st.over) return;
            if (r.failure) return fail(st, *r.failure);
            if (!st.spec.sources_sent) {
              st.env.hub->publish(core::make_progress("retrieve", 1, 1));
              std::vector<core::source_ref> sources;
              sources.reserve(r.chunks.size());
              bool text = st.spec.request->source_text;
              for (const auto& c : r.chunks)
                sources.push_back(
                    {c.path, c.start_line, c.end_line, c.score,
                     text ? std::string(std::string_view(c.text).substr(
                                0, core::utf8_cut(c.text, core::max_source_text_bytes)))
                          : std::string()});
              st.env.hub->publish(core::make_sources(sources));
            }
            // The mode asked for, or what ran instead (a failing embedder: bm25).
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
            const auto& mode = st.spec.request->retrieval.mode;
            st.report.how =
                (r.degraded.empty() ? mode : "bm25") + ":" + std::to_string(ms.count()) + "ms";
            if (!r.degraded.empty()) {
              st.retrieval_fell_back = true;
              core::log_warn("retrieval degraded")
                  .kv("id", st.env.request_id)
                  .kv("detail", r.degraded);
            }
            generate(self, st, std::move(r.chunks));
          },
          [=, rs = &st](caf::error& err) {
            if (rs->over) return;
            fail(*rs, core::error::make(core::error_code::internal,
                                        "retrieval failed: " + self->system().render(err)));
          });
}

template <class Host>
void begin(Host* self, round_state& st) {
  // A research round begins: its stage, and the heading when askd writes it (after the
  // rounds before it, apart from their text).
  if (const auto& r = st.spec.research; r.active) {
    if (!st.spec.resumed) st.env.hub->publish(core::make_stage(r.round, rag::to_string(r.kind)));
    if (st.spec.heading_written) {
      auto heading = rag::research_heading(r);
      if (!st.spec.heading_sent)
        st.env.hub->publish(core::make_delta((r.round > 1 ? "\n\n" : "") + heading + "\n\n"));
      st.spec.output->drop_leading_heading(std::move(heading));  // a model's copy of it
    }
  }
  retrieve_then_generate(self, st);
}

}  // namespace

flight_hold::~flight_hold() {
  let_go();
}

void flight_hold::let_go() {
  if (auto f = std::move(flight)) following ? f->leave(output) : f->abandon();
}

bool round_call(const round_state& st, const caf::actor_addr& child) {
  return !st.over && child == st.call;
}

void start_round(round_actor::pointer self, round_state& st) {
  begin(self, st);
}
void start_round(session_actor::pointer self, round_state& st) {
  begin(self, st);
}

void round_finished(round_state& st, call_summary& summary) {
  if (st.over) return;
  finish(st);
  if (st.retrieval_fell_back) summary.degraded.insert(summary.degraded.begin(), "retrieval:bm25");
  summary.cache = st.cache;
  if (st.continued) add_degraded(summary.degraded, "continued");
  if (st.flight.flight && !st.flight.following)
    std::exchange(st.flight.flight, nullptr)
        ->finish({summary.finish_reason, summary.usage, summary.usage_reported, summary.degraded});
  st.reports->finished(summary);
}

void round_failed(round_state& st, core::error err) {
  fail(st, std::move(err));
}

void round_lead(round_state& st) {
  if (st.over || !st.flight.following) return;
  // What it has so far came from the other generation; this one continues it.
  st.flight.flight.reset();
  st.flight.following = false;
  st.cache = "miss";
  st.continued = st.spec.output->sent_bytes() > 0;
  core::log_info("answer cache: shared answer went on alone")
      .kv("id", st.env.request_id)
      .kv("sent_bytes", static_cast<std::uint64_t>(st.spec.output->sent_bytes()));
  st.go_alone();
}

namespace {

// The round actor: a research's round. It tells the research (its listener) by message,
// and quits once it has ended.
struct to_listener final : round_reports {
  round_actor::pointer self = nullptr;
  round_listener_actor listener;
  void retrieved(round_retrieval& r) override { self->send(listener, retrieved_atom::value, r); }
  void finished(call_summary& summary) override {
    self->send(listener, finished_atom::value, std::move(summary));
    self->quit();
  }
  void failed(core::error& err) override {
    self->send(listener, failed_atom::value, std::move(err));
    self->quit();
  }
};

struct round_actor_state {
  round_state round;
  to_listener reports;
  census_count counted;
  static inline const char* name = "round";
};

round_actor::behavior_type round(round_actor::stateful_pointer<round_actor_state> self,
                                 round_env env, round_spec spec, round_listener_actor listener) {
  auto& st = self->state.round;
  st.env = std::move(env);
  st.spec = std::move(spec);
  self->state.reports.self = self;
  self->state.reports.listener = std::move(listener);
  st.reports = &self->state.reports;
  self->state.counted.start(st.env.context, &actor_census::rounds);
  auto* r = &st;
  on_child_exit(
      self, [=](const caf::actor_addr& child) { return round_call(*r, child); },
      [=](const std::string& why) { round_failed(*r, call_crashed(why)); });
  start_round(self, st);
  return {
      [=](finished_atom, call_summary& summary) { round_finished(*r, summary); },
      [=](failed_atom, core::error& err) { round_failed(*r, std::move(err)); },
      [=](lead_atom) { round_lead(*r); },
  };
}

}  // namespace

round_actor spawn_round(caf::local_actor& parent, round_env env, round_spec spec,
                        round_listener_actor listener) {
  return parent.spawn<caf::linked>(round, std::move(env), std::move(spec), std::move(listener));
}

}  // namespace askd::actors
