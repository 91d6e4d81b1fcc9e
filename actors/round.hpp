// actors/round.hpp — one answer to one question: retrieval for the round's query, the
// prompt around what it found, and the generation under a call supervisor (or the local
// provider's extract). A plain request is one round, run by its session itself (no actor
// of its own: bench/RESULTS.md, sixth pass); a deep research is a round actor per step of
// the investigation (actors/research.hpp). A research round starts with its `stage` event
// (and its heading, when askd writes it). The round tells whoever runs it what retrieval
// did (`retrieved`), then how the generation ended; a round actor then quits.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "core/chat_request.hpp"
#include "rag/research.hpp"

namespace askd::actors {

// Prompt tokens the model's window must also leave for the answer.
inline constexpr std::int64_t answer_reserve_tokens = 4096;

// What every round of one request shares.
struct round_env {
  std::shared_ptr<engine_context> context;
  std::shared_ptr<const engine_refs> refs;
  rag::repo_source source;
  std::shared_ptr<stream_hub> hub;  // the stream's: progress, sources, stage, the text
  std::shared_ptr<const providers::provider> provider;
  limiter_actor limiter;  // the provider's: a slot is claimed before the generation
  caf::actor holder;      // whom the slot is claimed for (the session)
  caf::actor_clock::time_point deadline;
  std::string request_id;  // for log lines
};

// One round.
struct round_spec {
  // The conversation the prompt is made of (a research round's: the question and the
  // rounds before it), with the request's provider, model and options.
  std::shared_ptr<const core::chat_request> request;
  // Inactive: a plain question, which retrieves for the last message; else what the
  // research round retrieves for is its `query`.
  rag::research_round research;
  bool heading_written = false;  // askd writes the round's heading (server-driven)
  // The local provider's answer starts with this (a research conclusion: the rounds'
  // places) before its extract for the round's query.
  std::string local_preface;
  std::shared_ptr<generation_output> output;  // where the round's text goes
  // A round taken over from a lost node (actors/replication.hpp), whose clients have
  // seen its beginning: its stage (and heading, `heading_sent`) is not written again,
  // nor its retrieval's progress and sources when `sources_sent`.
  bool resumed = false;
  bool heading_sent = false;
  bool sources_sent = false;
};

class answer_flight;

// A round's part in an answer cache flight. A round gone without its answer (cancelled,
// killed with its session) lets go here, when its state goes: the flight it led goes on
// without it (its followers alone), the one it followed forgets it.
struct flight_hold {
  std::shared_ptr<answer_flight> flight;
  bool following = false;
  const generation_output* output = nullptr;  // the follower's
  flight_hold() = default;
  flight_hold(const flight_hold&) = delete;
  flight_hold& operator=(const flight_hold&) = delete;
  ~flight_hold();
  void let_go();
};

// What a round tells whoever runs it: what retrieval did (before the generation), then
// how the generation ended, once. Its host's state has one.
class round_reports {
 public:
  virtual void retrieved(round_retrieval& r) = 0;
  virtual void finished(call_summary& summary) = 0;
  virtual void failed(core::error& err) = 0;

 protected:
  ~round_reports() = default;
};

// A round at work, kept in the state of the actor running it (its host): a round actor,
// or the session of a plain question. Lambdas the round leaves behind (a limiter's or the
// registry's answer) hold its address: it must not move while the host lives.
struct round_state {
  round_env env;
  round_spec spec;
  round_reports* reports = nullptr;  // the host's
  caf::actor_addr call;              // the call supervisor or local_call
  round_retrieval report;            // what retrieval did, reported when the prompt is built
  // The answer cache: the flight this round leads (its generation is recorded for
  // identical questions) or follows; and, when following, how it would go on alone.
  flight_hold flight;
  std::function<void()> go_alone;
  const char* cache = "";            // call_summary::cache
  bool retrieval_fell_back = false;  // to bm25: the mode asked for could not run
  bool continued = false;            // followed a flight that was abandoned after some text
  bool over = false;
};

// Starts the round's work on its host: a round actor, or a plain question's session. The
// host's handlers hand over what its round's generation says: its `finished` and `failed`
// messages, the answer cache's `lead`, and a crash of `call`.
void start_round(round_actor::pointer self, round_state& st);
void start_round(session_actor::pointer self, round_state& st);
void round_finished(round_state& st, call_summary& summary);
void round_failed(round_state& st, core::error err);
void round_lead(round_state& st);
// Whether `child` is the round's generation, still in flight.
bool round_call(const round_state& st, const caf::actor_addr& child);

// Linked to `parent`: when the parent dies, the round and its generation die with it.
round_actor spawn_round(caf::local_actor& parent, round_env env, round_spec spec,
                        round_listener_actor listener);

}  // namespace askd::actors
