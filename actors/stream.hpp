// actors/stream.hpp — one per resumable answer, around its hub (actors/stream_hub.hpp:
// numbering, fan-out to the attached ports, the events kept for resuming): attaches and
// detaches sinks, cancels the producer, and lingers after the end so clients can still
// resume. What happens when the last sink leaves depends on the face. Only resumable
// streams (v1, background) have one: a compat stream is carried by its session alone.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/stream_hub.hpp"
#include "core/ids.hpp"

// The producer registers itself (producer_atom) before its first event and publishes to
// `hub`; it quits after the terminal event, and the stream ends when it sees it gone.
// Sinks are attached by whoever spawns them.

namespace askd::actors {

struct stream_options {
  std::string id;  // the stream id (unguessable)
  // When the last sink leaves before the end: cancel after streams.detach_grace_s unless
  // a sink comes back (v1), or never (background). A compat stream has no stream actor:
  // its client leaving stops its session (engine::start_chat).
  enum class orphan { grace, keep } orphaned = orphan::grace;
  int linger_s = 0;  // kept this long after the end (0: quit at the end)
  // It starts with no sink (a stream taken over from a lost node): the rule above applies
  // from the start, as if the last sink had just left.
  bool unwatched = false;
  // Called when the stream is gone (its directory entry is removed there).
  std::function<void()> on_exit;
};

// Stream id → stream, for attaching and cancelling by id (from this node's routes, or a
// peer's in a cluster). A stream removes its own entry when it is gone (after its linger).
struct stream_directory {
  struct entry {
    stream_actor stream;
    std::shared_ptr<stream_hub> hub;
    std::string owner;
  };
  mutable std::mutex mu;
  std::unordered_map<std::string, entry> streams;

  std::optional<entry> find(const std::string& id, const std::string& owner) const {
    std::lock_guard lock(mu);
    auto it = streams.find(id);
    // Not theirs looks like not there: stream ids are not confirmed to strangers.
    if (it == streams.end() || !core::equal_in_constant_time(it->second.owner, owner))
      return std::nullopt;
    return it->second;
  }
};

stream_actor spawn_stream(caf::actor_system& system, std::shared_ptr<engine_context> context,
                          never_actor timers, std::shared_ptr<stream_hub> hub,
                          stream_options options);

}  // namespace askd::actors
