// actors/remote_stream.hpp — watching a stream that lives on another node. The watcher's
// node runs a remote_watch actor in place of a sink: it holds the client's port and
// receives the owner's events over the middleman. The owner's node attaches a relay_port
// to the stream's hub through an ordinary sink (actors/sink.hpp), so the remote client is
// one more watcher there: replay then live, in order, paced by the watcher's acks
// instead of a socket's drain (the hub stops delivering when the relay has a window
// unacknowledged and catches it up from the kept events), cut off past replay_bytes
// like any slow watcher.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/cluster_messages.hpp"
#include "actors/context.hpp"

namespace askd::actors {

// Bytes the owner sends a remote watcher before it waits for an ack: below a connection's
// write queue less its pacing (net/v1_face.hpp), so the watcher's port never overflows.
inline constexpr std::uint64_t relay_window_bytes = 64 * 1024;

// What an event costs in the relay's window.
std::uint64_t relay_cost(const core::stream_event& e);

// The owner's side: each event the hub delivers goes to the watcher as a message.
class relay_port : public sink_port {
 public:
  // `acks` is this node's cluster actor: a pause that finds the window open already asks it
  // (as an ack of 0 bytes) to resume from outside the hub's lock.
  relay_port(caf::actor watcher, cluster_actor acks)
      : watcher_(std::move(watcher)), acks_(std::move(acks)) {}
  void deliver(const core::stream_event& event) override;
  void live() override;
  void closed(const core::stream_event& last) override;
  bool behind() const override { return unacked_.load() >= relay_window_bytes; }
  void pause(std::function<void()> resume) override;
  void lost(std::uint64_t dropped) override;
  void moved() override;
  // The watcher has written `bytes` more (cluster actor, on its ack).
  void acked(std::uint64_t bytes);

 private:
  caf::actor watcher_;
  cluster_actor acks_;
  std::atomic<std::uint64_t> unacked_{0};
  std::mutex mutex_;
  std::function<void()> resume_;
};

// A node a stream may live on: its name and its cluster actor.
struct stream_location {
  std::string node;
  cluster_actor actor;
};

// Where a stream lives now, as engine::attach routes it, but for the nodes in `lacking`
// (asked already, they do not have it); nullopt: nowhere.
using stream_route = std::function<std::optional<stream_location>(
    const std::string& stream_id, const std::vector<std::string>& lacking)>;

// The watcher's side: spawned by engine::attach for a stream that lives on another node.
// Sends the owner `attach`; delivers what comes to `port`; a refusal is port->missing().
// When the serving node is lost, it attaches again where `route` says the stream lives
// now (its replica took it over: actors/replication.hpp), after the last event the port
// has — the client sees no break; with none found the port is told it moved. A node
// other than the stream's own that says it does not have the stream (one that joined
// while the stream ran ranks among its candidates, but its replica was chosen before)
// is passed over for the next that `route` names, each asked once. Quits after the
// terminal event or on the client's leaving (telling the owner).
sink_actor spawn_remote_watch(caf::actor_system& system, std::shared_ptr<engine_context> context,
                              std::shared_ptr<sink_port> port, stream_location first,
                              remote_attach what, stream_route route = {});

}  // namespace askd::actors
