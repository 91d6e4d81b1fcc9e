// actors/stream.hpp — one per answer: numbers the producer's events, fans each out to
// every attached sink, keeps them (up to streams.replay_bytes, oldest dropped first) so
// a sink attaching later gets what it missed, and lingers after the end so clients can
// still resume. What happens when the last sink leaves depends on the face.
#pragma once

#include <memory>
#include <string>

#include "actors/context.hpp"
#include "actors/messages.hpp"

// The producer registers itself (producer_atom) before its first event; sinks are
// attached by whoever spawns them.

namespace askd::actors {

struct stream_options {
  std::string id;  // the stream id (unguessable); "" for the compat face
  // When the last sink leaves before the end: cancel at once (compat: nobody can resume),
  // after streams.detach_grace_s unless a sink comes back (v1), or never (background).
  enum class orphan { cancel, grace, keep } orphaned = orphan::cancel;
  int linger_s = 0;  // kept this long after the end (0: quit at the end)
  // Called when the stream is gone (its directory entry is removed there).
  std::function<void()> on_exit;
};

stream_actor spawn_stream(caf::actor_system& system, std::shared_ptr<engine_context> context,
                          never_actor timers, stream_options options);

}  // namespace askd::actors
