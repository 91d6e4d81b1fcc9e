// actors/limiter.hpp — a limiter actor (DESIGN.md "Actors"): a concurrency cap and a
// bounded FIFO queue in front of one provider. Sessions reserve a place when they are
// admitted (a full queue refuses at once: 429 before the stream starts) and claim a slot
// before their provider call; a place comes back on release or when its holder dies.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

// `gauges` must outlive the actor (they live in the context).
limiter_actor spawn_limiter(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            core::provider_limit limit, limiter_gauges* gauges);

}  // namespace askd::actors
