// actors/session.hpp — one per chat request: admission, the request's deadline and
// cancellation, and its one log line. The work is a round (actors/round.hpp: retrieval,
// prompt, supervised generation), which the session runs itself, or, for `deep_research`,
// a research of several rounds (actors/research.hpp); the session ends the stream with
// `done` or `error`.
#pragma once

#include <memory>
#include <string>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "core/chat_request.hpp"

namespace askd::actors {

struct takeover;

// The session asks its provider's limiter for a place first (refused: the stream's only
// event is an `overloaded` error), then publishes `meta` to the stream's hub and starts
// work. It quits after publishing a terminal event, and dies (taking its provider call
// with it) when the stream cancels it or limits.request_timeout_ms passes.
// With `resumed`, the session takes over a stream whose node was lost (actors/
// replication.hpp): its clients have seen `meta` and what the hub holds; the answer goes on
// from there and `done.degraded` says `failover`.
session_actor spawn_session(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            std::shared_ptr<const core::chat_request> request,
                            rag::repo_source source, std::string request_id, std::string stream_id,
                            std::shared_ptr<const engine_refs> refs, stream_actor stream,
                            std::shared_ptr<stream_hub> hub,
                            std::shared_ptr<const takeover> resumed = nullptr);

}  // namespace askd::actors
