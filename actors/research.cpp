#include "actors/research.hpp"

#include <algorithm>

#include "actors/children.hpp"
#include "actors/replication.hpp"
#include "core/log.hpp"

namespace askd::actors {
namespace {

struct done_round {
  rag::research_round research;
  std::string text;                // heading and answer, as the next rounds see it
  std::vector<std::string> paths;  // where its context came from
};

struct research_state {
  round_env env;
  std::shared_ptr<const core::chat_request> request;
  round_listener_actor listener;
  std::string topic;
  std::vector<done_round> rounds;             // the last one is in flight until it finishes
  std::shared_ptr<generation_output> output;  // the round in flight's text
  caf::actor_addr current;
  bool conclude_next = false;  // the last round named nothing more to look at
  call_summary total;
  bool over = false;
  census_count counted;
  static inline const char* name = "research";
};

using self_ptr = round_listener_actor::stateful_pointer<research_state>;

// A conclusion written without a model: where every round looked.
std::string places_examined(const std::vector<done_round>& rounds) {
  std::string out = "Places examined in " + std::to_string(rounds.size()) +
                    (rounds.size() == 1 ? " round:\n" : " rounds:\n");
  for (const auto& r : rounds) {
    out += "- " + rag::research_heading(r.research).substr(3) + ":";
    if (r.paths.empty()) out += " nothing matched";
    constexpr std::size_t most = 5;
    for (std::size_t i = 0; i < r.paths.size() && i < most; ++i)
      out += (i ? ", `" : " `") + r.paths[i] + "`";
    if (r.paths.size() > most) out += " and " + std::to_string(r.paths.size() - most) + " more";
    out += "\n";
  }
  return out + "\n";
}

rag::research_kind kind_named(const std::string& kind, rag::research_kind otherwise) {
  for (auto k :
       {rag::research_kind::plan, rag::research_kind::update, rag::research_kind::conclusion})
    if (kind == rag::to_string(k)) return k;
  return otherwise;
}

// `in_flight`: the round a takeover goes on with (its clients saw its start).
void start_round(self_ptr self, const takeover::round* in_flight = nullptr,
                 const takeover* resumed = nullptr) {
  auto& st = self->state;
  const int max_rounds = st.request->max_rounds;
  rag::research_round r;
  r.active = true;
  r.round = static_cast<int>(st.rounds.size()) + 1;
  r.kind = st.conclude_next ? rag::research_kind::conclusion
                            : rag::research_kind_of(r.round, max_rounds);
  if (in_flight) r.kind = kind_named(in_flight->kind, r.kind);
  r.topic = st.topic;
  // The conclusion answers the question itself, from everything the rounds found.
  if (!st.rounds.empty() && r.kind != rag::research_kind::conclusion)
    r.query = rag::next_focus(st.rounds.back().text);
  bool from_next = !r.query.empty();
  if (!from_next) r.query = st.topic;

  // The conversation so far: the client's, then each round and the request to go on;
  // the rounds take at most half of what the model's window leaves after the answer.
  auto request = std::make_shared<core::chat_request>(*st.request);
  std::vector<std::string> texts;
  for (const auto& done : st.rounds) texts.push_back(done.text);
  const auto* model = st.env.provider->settings().find_model(st.request->model);
  auto budget = model && model->context_window > answer_reserve_tokens
                    ? (model->context_window - answer_reserve_tokens) / 2
                    : 0;
  for (auto& text : rag::fit_rounds(std::move(texts), budget)) {
    request->messages.push_back({"assistant", std::move(text)});
    request->messages.push_back({"user", "Continue the research"});
  }
  round_spec spec;
  spec.request = std::move(request);
  spec.research = r;
  spec.heading_written = true;
  if (r.kind == rag::research_kind::conclusion && !st.rounds.empty())
    spec.local_preface = places_examined(st.rounds);
  spec.output = std::make_shared<generation_output>(st.env.hub);
  st.output = spec.output;
  if (in_flight) {
    spec.resumed = true;
    spec.heading_sent = in_flight->heading_sent;
    spec.sources_sent = resumed->sources_sent;
    if (!resumed->text.empty()) spec.output->seed(resumed->text, st.env.provider->offline());
  }

  st.rounds.push_back({r, rag::research_heading(r) + "\n\n", {}});
  core::log_info("research round")
      .kv("id", st.env.request_id)
      .kv("round", r.round)
      .kv("kind", rag::to_string(r.kind))
      .kv("query", from_next ? "next" : "topic");
  st.current =
      spawn_round(*self, st.env, std::move(spec), caf::actor_cast<round_listener_actor>(self))
          .address();
}

void end(self_ptr self) {
  auto& st = self->state;
  st.over = true;
  core::log_info("research")
      .kv("id", st.env.request_id)
      .kv("rounds", static_cast<std::uint64_t>(st.rounds.size()))
      .kv("concluded", st.rounds.back().research.kind == rag::research_kind::conclusion
                           ? "conclusion"
                           : "early");
  self->send(st.listener, finished_atom::value, st.total);
  self->quit();
}

round_listener_actor::behavior_type research(self_ptr self, round_env env,
                                             std::shared_ptr<const core::chat_request> request,
                                             round_listener_actor listener,
                                             std::shared_ptr<const takeover> resumed) {
  auto& st = self->state;
  st.env = std::move(env);
  st.counted.start(st.env.context, &actor_census::research);
  st.request = std::move(request);
  st.listener = std::move(listener);
  auto asked = rag::research_of(st.request->messages, st.request->max_rounds);
  st.topic =
      asked.active ? asked.topic : rag::strip_research_tag(st.request->messages.back().content);
  on_child_exit(
      self,
      [=](const caf::actor_addr& child) {
        return !self->state.over && child == self->state.current;
      },
      [=](const std::string& why) {
        auto& st = self->state;
        st.over = true;
        self->send(st.listener, failed_atom::value,
                   core::error::make(core::error_code::internal, "research round crashed: " + why));
        self->quit();
      });
  if (resumed && !resumed->rounds.empty()) {
    // The rounds the lost node completed, as start_round would have begun them; then the
    // one in flight goes on.
    const auto& rounds = resumed->rounds;
    for (std::size_t i = 0; i + 1 < rounds.size(); ++i) {
      rag::research_round r;
      r.active = true;
      r.round = rounds[i].number;
      r.kind = kind_named(rounds[i].kind, rag::research_kind::update);
      r.topic = st.topic;
      r.query = st.rounds.empty() ? st.topic : rag::next_focus(st.rounds.back().text);
      if (r.query.empty()) r.query = st.topic;
      st.rounds.push_back({r, rounds[i].text, rounds[i].paths});
    }
    if (!st.rounds.empty()) st.conclude_next = rag::next_focus(st.rounds.back().text).empty();
    start_round(self, &rounds.back(), resumed.get());
  } else {
    start_round(self);
  }
  return {
      [=](retrieved_atom, round_retrieval& r) {
        auto& st = self->state;
        st.rounds.back().paths = r.paths;
        self->send(st.listener, retrieved_atom::value, std::move(r));
      },
      [=](finished_atom, call_summary& summary) {
        auto& st = self->state;
        if (st.over) return;
        auto& t = st.total;
        t.finish_reason = summary.finish_reason;
        t.usage.prompt_tokens += summary.usage.prompt_tokens;
        t.usage.completion_tokens += summary.usage.completion_tokens;
        t.usage_reported = t.usage_reported || summary.usage_reported;
        // The answer was replayed ("hit") when every round's was; "partial" when some were.
        t.cache = st.rounds.size() == 1 || t.cache == summary.cache ? summary.cache : "partial";
        for (const auto& d : summary.degraded) add_degraded(t.degraded, d);
        auto& done = st.rounds.back();
        auto answer = st.output->sent();
        done.text += answer;
        if (done.research.kind == rag::research_kind::conclusion || rag::concludes(answer))
          return end(self);
        st.conclude_next = rag::next_focus(answer).empty();
        start_round(self);
      },
      [=](failed_atom, core::error& err) {
        auto& st = self->state;
        if (st.over) return;
        st.over = true;
        core::log_warn("research failed")
            .kv("id", st.env.request_id)
            .kv("round", static_cast<std::uint64_t>(st.rounds.size()))
            .kv("attempts", st.env.hub->attempts())
            .kv("class", core::wire_name(err.code));
        err.message = "research round " + std::to_string(st.rounds.size()) + ": " + err.message;
        self->send(st.listener, failed_atom::value, std::move(err));
        self->quit();
      },
  };
}

}  // namespace

round_listener_actor spawn_research(caf::local_actor& parent, round_env env,
                                    std::shared_ptr<const core::chat_request> request,
                                    round_listener_actor listener,
                                    std::shared_ptr<const takeover> resumed) {
  return parent.spawn<caf::linked>(research, std::move(env), std::move(request),
                                   std::move(listener), std::move(resumed));
}

}  // namespace askd::actors
