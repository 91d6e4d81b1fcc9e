// actors/limiter.hpp — a limiter actor (DESIGN.md "Actors"): a concurrency cap and a
// bounded FIFO queue in front of one provider. Sessions reserve a place when they are
// admitted (a full queue refuses at once: 429 before the stream starts) and claim a slot
// before their provider call; a slot comes back on yield (the holder keeps its place, to
// claim again), a place on release or when its holder dies.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

// Whether a newcomer would find no place, from the published occupancy: the limiter's
// own check, and the engine's fast path that refuses on the connection's thread without
// a message (under a race it may admit one too many; the limiter then refuses it).
std::optional<core::error> no_room(const engine_context& context, const limiter_gauges& gauges,
                                   const core::provider_limit& limit);

// `gauges` must outlive the actor (they live in the context).
limiter_actor spawn_limiter(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            core::provider_limit limit, limiter_gauges* gauges);

}  // namespace askd::actors
