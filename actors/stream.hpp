// actors/stream.hpp — one per answer: numbers the producer's events and fans each out
// to every attached sink. A foreground stream whose last sink leaves before the end is
// cancelled: it kills its producer, which takes its provider calls down with it.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

// The producer registers itself (producer_atom) before its first event; sinks are
// attached by whoever spawns them.

namespace askd::actors {

stream_actor spawn_stream(caf::actor_system& system, std::shared_ptr<engine_context> context);

}  // namespace askd::actors
