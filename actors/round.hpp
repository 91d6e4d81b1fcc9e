// actors/round.hpp — one answer to one question: retrieval for the round's query, the
// prompt around what it found, and the generation under a call supervisor (or the local
// provider's extract). A plain request is one round of its session; a deep research is a
// round per step of the investigation (actors/research.hpp). A research round starts
// with its `stage` event (and its heading, when askd writes it). The round tells its
// listener what retrieval did (`retrieved`), then how the generation ended, and quits.
#pragma once

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
  rag::research_round research;  // inactive: a plain question
  bool heading_written = false;  // askd writes the round's heading (server-driven)
  std::string query;             // what to retrieve for
  // The local provider's answer starts with this (a research conclusion: the rounds'
  // places) before its extract for `query`.
  std::string local_preface;
  std::shared_ptr<generation_output> output;  // where the round's text goes
  // A round taken over from a lost node (actors/replication.hpp), whose clients have
  // seen its beginning: its stage (and heading, `heading_sent`) is not written again,
  // nor its retrieval's progress and sources when `sources_sent`.
  bool resumed = false;
  bool heading_sent = false;
  bool sources_sent = false;
};

// Linked to `parent`: when the parent dies, the round and its generation die with it.
round_actor spawn_round(caf::local_actor& parent, round_env env, round_spec spec,
                                      round_listener_actor listener);

}  // namespace askd::actors
