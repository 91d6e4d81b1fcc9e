// actors/sink.hpp — the network side of one client connection in the actor world:
// receives its stream's events and hands each to the connection's port, which posts
// the write onto the connection's strand.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/engine.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

// The caller attaches the sink to `stream` (attach_atom, with the same `after`): before
// the producer starts, so no event is missed, or later to resume. The sink passes on
// events numbered after `after` only, and quits after the terminal event or when the
// client goes away.
sink_actor spawn_sink(caf::actor_system& system, std::shared_ptr<engine_context> context,
                      std::shared_ptr<sink_port> port, stream_actor stream,
                      std::uint64_t after = 0);

}  // namespace askd::actors
