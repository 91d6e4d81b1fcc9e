// actors/messages.hpp — every typed actor interface and message of the engine, in one
// place, so a reader knows what each actor accepts before reading any behaviour.
// Included only by actors/*.cpp: it pulls in CAF, which net/ and apps/ never see.
#pragma once

#include <caf/all.hpp>

#include <algorithm>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/generation_output.hpp"
#include "actors/stream_hub.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "providers/curl_engine.hpp"
#include "rag/disk_budget.hpp"
#include "rag/file_filter.hpp"
#include "rag/repo_source.hpp"

namespace askd::actors {

// ---- atoms (at most 10 characters) -------------------------------------------------
using up_done_atom = caf::atom_constant<caf::atom("up_done")>;
using finished_atom = caf::atom_constant<caf::atom("finished")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using producer_atom = caf::atom_constant<caf::atom("producer")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using gone_atom = caf::atom_constant<caf::atom("gone")>;
using retrieve_atom = caf::atom_constant<caf::atom("retrieve")>;
using indexed_atom = caf::atom_constant<caf::atom("indexed")>;
using next_atom = caf::atom_constant<caf::atom("next")>;
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using retrieved_atom = caf::atom_constant<caf::atom("retrieved")>;
using yield_atom = caf::atom_constant<caf::atom("yield")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using capacity_atom = caf::atom_constant<caf::atom("capacity")>;
using lead_atom = caf::atom_constant<caf::atom("lead")>;
using waiters_atom = caf::atom_constant<caf::atom("waiters")>;

// ---- message payloads ----------------------------------------------------------------

// How a provider call ended normally: provider_call -> its listener.
struct call_summary {
  std::string finish_reason;
  core::token_usage usage;
  bool usage_reported = false;
  std::vector<std::string> degraded;  // what was given up to answer, e.g. "retrieval"
  // How the answer cache served it (actors/answer_cache.hpp): "" (not asked: off, the
  // local provider), "miss" (its own upstream call), "hit" (replayed), "shared" (streamed
  // from an identical question's call in flight). A research: "hit" when every round was.
  std::string cache;
};

// Adds `what` to a list of what was given up (call_summary, done_info), once.
inline void add_degraded(std::vector<std::string>& degraded, std::string_view what) {
  if (std::find(degraded.begin(), degraded.end(), what) == degraded.end())
    degraded.emplace_back(what);
}

// How an upstream transfer ended, from the curl thread to its provider_call: the
// transport's result, a malformed stream (the decoder's error), the response's status,
// Retry-After and (for a non-2xx status, bounded) body for classification, and what the
// decoder learned of the end.
struct upstream_end {
  providers::transfer_result transfer;
  std::optional<core::error> decode_error;
  long status = 0;
  std::string retry_after;
  std::string error_body;
  call_summary summary;
};

// One search of an open index: the question, how many chunks, and how to rank them.
struct search_request {
  std::string query;
  std::size_t k = 20;
  std::string mode = "bm25";  // bm25 | vector | hybrid
  std::string embedder;       // for vector and hybrid: conf/embedder.json id
  // `progress` while it waits for a clone or a build: to the request's stream, or to the
  // node that asked (actors/remote_retrieval.hpp).
  std::function<void(const std::string& phase, std::int64_t done, std::int64_t total)> on_progress;
};

// What a round asks of the repo registry: the best chunks of one repository.
struct retrieval_query {
  // What source, token and filter were made from (sent to the owner node in a cluster).
  std::shared_ptr<const core::chat_request> request;
  rag::repo_source source;
  std::string token;  // secret: for cloning a private repository; never logged
  std::shared_ptr<const rag::file_filter> filter;
  search_request search;
  // In a cluster: search this node's own index, whoever owns the key (the owner asked by
  // another node, or the fallback when the owner cannot be reached).
  bool here = false;
};

// The registry's answer: ranked chunks, or why there are none.
struct retrieval_reply {
  std::vector<rag::context_chunk> chunks;
  std::optional<core::error> failure;
  std::string degraded;  // set when the mode asked for could not run: what ran, and why

  static retrieval_reply failed(core::error why) {
    retrieval_reply r;
    r.failure = std::move(why);
    return r;
  }
};

// What a round's retrieval did, for its listener's log line: how ("bm25:12ms",
// "skipped:long_question", "none"), how many chunks, and the files they came from.
struct round_retrieval {
  std::string how = "none";
  std::size_t chunks = 0;
  std::vector<std::string> paths;  // distinct, best first
};

// An indexer's result: the built index, or why it failed.
struct index_result {
  std::shared_ptr<const rag::repo_index> index;
  std::optional<core::error> failure;
  // With repos.disk_mb: what the data dir held when the build ended, for the registry to
  // keep it within the budget.
  std::vector<rag::disk_item> disk;
};

// A limiter's answer: admitted, or refused with why and when to come back.
struct admission {
  std::optional<core::error> refusal;  // overloaded, with retry_after_ms
};

// ---- interfaces ------------------------------------------------------------------------

// Whoever hears how a generation ends: the session (from its supervisor), the supervisor
// (from each attempt). The text itself goes through a generation_output to the stream's
// hub, not through the listener.
using generation_listener_actor = caf::typed_actor<
    // provider_call -> listener: the call ended normally; the provider_call quits.
    caf::reacts_to<finished_atom, call_summary>,
    // provider_call -> listener: the call failed with a classified error; it quits.
    caf::reacts_to<failed_atom, core::error>>;

// Whoever runs rounds (actors/round.hpp) and hears from them: the session (one round, or
// the research actor), the research actor (each of its rounds).
using round_listener_actor = generation_listener_actor::extend<
    // round -> listener: its retrieval is over; the generation follows.
    caf::reacts_to<retrieved_atom, round_retrieval>>;

// One round (actors/round.hpp): a generation's listener that may be following another
// round's generation of the same question (actors/answer_cache.hpp).
using round_actor = generation_listener_actor::extend<
    // answer cache -> follower: the generation it followed went without an answer: go on
    // alone, from the text it has.
    caf::reacts_to<lead_atom>>;

// One chat request's session (actors/session.hpp): the listener of the research it runs,
// or the round of a plain question, which it runs itself (and so hears that round's
// generation, and the answer cache's `lead` for it).
using session_actor = round_listener_actor::extend<caf::reacts_to<lead_atom>>;

// Owns one generation's provider calls (actors/call_supervisor.hpp): to its provider
// calls it is their listener, to the session a generation that reports like one call.
using call_supervisor_actor = generation_listener_actor;

// The actor timers ask (actors/timer.hpp): it never answers.
using never_actor = caf::typed_actor<caf::replies_to<wait_atom>::with<bool>>;

// One upstream HTTP call: one curl handle in the engine, one stream decoder.
using provider_call_actor = caf::typed_actor<
    // curl thread -> call: the transfer is over (or failed at the transport, or its
    // stream was malformed); the body's text went to the generation's output already.
    caf::reacts_to<up_done_atom, upstream_end>>;

// One client connection's hold on a stream, in the actor world. The events themselves go
// from the stream's hub to the connection's port; the sink is what the stream monitors
// and what the connection tells when its client leaves.
using sink_actor = caf::typed_actor<
    // stream -> sink: the stream has ended for this sink (its port has had the last
    // event, or a refusal to resume); quit.
    caf::reacts_to<finished_atom>,
    // net -> sink: the client went away; detach and quit.
    caf::reacts_to<gone_atom>>;

// One answer's lifecycle around its hub (actors/stream_hub.hpp, the numbered events and
// their fan-out): which sinks are attached, cancellation, and how long it is kept after
// its end so clients can resume.
using stream_actor = caf::typed_actor<
    // engine -> stream: the actor generating this answer; killed when the stream is cancelled.
    caf::reacts_to<producer_atom, caf::actor>,
    // producer -> stream: the next event, published to the hub (producers holding the
    // hub publish there directly).
    caf::reacts_to<core::stream_event>,
    // engine -> stream: a sink whose port the hub has attached (spawn_sink): the stream
    // watches it, and tells it when the stream has ended.
    caf::reacts_to<attach_atom, sink_actor>,
    // sink -> stream: the sink leaves (its client went away).
    caf::reacts_to<detach_atom, sink_actor>,
    // engine -> stream: stop now (DELETE, a WS cancel); the stream ends with
    // done(finish_reason "cancelled").
    caf::reacts_to<cancel_atom>>;

// One open index of one repository: searches run here, in parallel across repositories.
using retriever_actor = caf::typed_actor<
    // registry -> retriever (delegated for a session): the best `k` chunks for a query.
    caf::replies_to<retrieve_atom, search_request>::with<retrieval_reply>,
    // registry -> retriever: closed (evicted or replaced); answer what is queued, then quit.
    caf::reacts_to<gone_atom>>;

// One repository index per key, built once however many sessions ask at the same time.
using repo_registry_actor = caf::typed_actor<
    // session -> registry: the best chunks for a query; waits while the index is built.
    caf::replies_to<retrieve_atom, retrieval_query>::with<retrieval_reply>,
    // indexer -> registry: the build for `key` is over.
    caf::reacts_to<indexed_atom, std::string, index_result>,
    // indexer -> registry: the build for `key` is at `done` of `total` in `phase`
    // (clone, index); passed on to the streams waiting for it.
    caf::reacts_to<progress_atom, std::string, std::string, std::int64_t, std::int64_t>>;

// A concurrency cap with a bounded queue (core::slot_table): one per provider. Holders
// take and give back places and slots on their own threads when nobody waits
// (actors/limiter.hpp); these messages are the rest. A holder that dies gives its place
// and slot back (a functor attached to it).
using limiter_actor = caf::typed_actor<
    // holder -> limiter, when its own thread could not admit it (maybe no room): take a
    // place in the queue; answered at once (admitted or refused).
    caf::replies_to<reserve_atom, caf::actor>::with<admission>,
    // holder -> limiter, when it waits in the queue or maybe no place is left: take a slot
    // (and a place, if none); answered when granted, or at once when refused.
    caf::replies_to<claim_atom, caf::actor>::with<admission>,
    // holder -> limiter (its own thread does it when it finds the table): done; the place
    // and slot go to the next in line.
    caf::reacts_to<release_atom, caf::actor>,
    // holder -> limiter (likewise): the slot goes to the next in line; the holder keeps its
    // place (to claim again: a research's next round).
    caf::reacts_to<yield_atom, caf::actor>,
    // cluster -> limiter: this node's share of the cluster's max_concurrent changed.
    caf::reacts_to<capacity_atom, std::int64_t>,
    // a holder's thread -> limiter: the table gave these holders (actor ids) a slot, or
    // they left while waiting: answer the claims whose turn came, forget those gone.
    caf::reacts_to<waiters_atom, std::vector<std::uint64_t>>>;

// The local provider's answer being written: one piece per message, so a cancel lands
// between pieces.
using local_call_actor = caf::typed_actor<
    // local_call -> itself: send the next piece.
    caf::reacts_to<next_atom>>;

// The engine's long-lived actors that sessions address; read-only after start.
struct engine_refs {
  repo_registry_actor registry;
  never_actor timers;
  std::map<std::string, limiter_actor> limiters;  // one per provider id
};

// ---- inspection (CAF needs it to print and to serialise messages) -----------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_summary& x) {
  return f(caf::meta::type_name("call_summary"), x.finish_reason, x.usage, x.usage_reported,
           x.degraded, x.cache);
}

}  // namespace askd::actors

namespace askd::core {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_usage& x) {
  return f(caf::meta::type_name("token_usage"), x.prompt_tokens, x.completion_tokens);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, error& x) {
  return f(caf::meta::type_name("error"), x.code, x.message, x.retryable, x.upstream_status,
           x.retry_after_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_event& x) {
  return f(caf::meta::type_name("stream_event"), x.seq, x.type, x.text, x.data, x.code,
           x.retry_after_ms);
}

}  // namespace askd::core

// A transfer's result never leaves the process that ran the transfer.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::upstream_end)
// Indexes and queries hold shared pointers to read-only data: local messages only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::retrieval_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::retrieval_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::index_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::admission)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::search_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(askd::actors::round_retrieval)
