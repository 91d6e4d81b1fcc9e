// actors/sink.hpp — one client connection's hold on a stream, in the actor world. The
// stream's events go from its hub straight to the connection's port (which writes them
// on the thread that produced them, or posts them onto the connection's strand); the
// sink is what the stream monitors and what the connection tells when its client
// leaves.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/engine.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

// Spawns the sink and attaches its port to `stream`'s hub for every event after `after`
// (0: all), on the caller's thread: before the producer starts, so no event is missed,
// or later to resume (what the hub kept is replayed to the port at once). The sink quits
// when the stream has ended for it or the client goes away.
sink_actor spawn_sink(caf::actor_system& system, std::shared_ptr<engine_context> context,
                      std::shared_ptr<sink_port> port, stream_actor stream,
                      std::shared_ptr<stream_hub> hub, std::uint64_t after = 0);

}  // namespace askd::actors
