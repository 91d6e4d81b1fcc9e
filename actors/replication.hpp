// actors/replication.hpp — failover of v1 and background streams in a cluster
// (docs/ARCHITECTURE.md, Failover). Each such stream has a replica node: the first
// choice of rendezvous hashing for its id among the live nodes but its owner, so when the
// owner is lost every node agrees that the replica is where the stream lives now.
//
// The owner's side is a replicator actor per stream. It gates the stream's hub: every
// event published is queued for it, sent to the replica in batches (one in flight; what
// comes meanwhile goes in the next, so batches grow with the load) and released to
// clients only when the replica has acknowledged it (group commit). So whatever a client
// has read, the replica has, and a resume after failover never asks for text only the
// lost node knew. A replica that is lost is replaced (the whole log goes to the next
// choice) when this node sees a majority of the cluster and the new node has lost the old
// replica too; with none found within cluster.timeout_ms the stream is fenced here: its
// clients are told it moved and nothing more is released (a partitioned owner goes
// silent rather than diverging).
//
// The replica's side is a replica_store in the cluster actor. When the owner's node is
// lost and this node sees at least half of the cluster, the engine promotes the copy: a
// stream with the events held, and a session that goes on from them (the partial
// answer continued, a research from its round in flight) — `done.degraded` says
// `failover` (and `continued` when there was text).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/cluster_messages.hpp"
#include "actors/context.hpp"
#include "rag/research.hpp"

namespace askd::actors {

struct cluster_peers;

// What one node holds for others: a stream's copy, and all copies together.
inline constexpr std::size_t max_replica_stream_bytes = std::size_t{64} << 20;
inline constexpr std::size_t max_replica_bytes = std::size_t{1} << 30;
// Events per replication batch, at most (bytes): a long answer goes in several.
inline constexpr std::size_t max_replica_batch_bytes = 256 * 1024;

// Why a peer's replica_open cannot be held here ("" when it can): the request past a
// client's bounds (core/chat_request.hpp), an id or key out of shape, events malformed.
std::string replica_open_problem(const replica_open& r);
// Why `events` cannot follow sequence number `after` ("" when they can): out of order,
// an unknown type, a field past its bound, anything after a terminal event.
std::string events_problem(const std::vector<core::stream_event>& events, std::uint64_t after);

// The copies this node holds for other nodes' streams (the cluster actor's; no CAF).
class replica_store {
 public:
  using clock = std::chrono::steady_clock;
  // Holds `r` for `owner_node` (replacing an older copy of the stream). "" or why not.
  std::string open(replica_open r, const std::string& owner_node, clock::time_point now);
  // Appends `events` to the copy of `id`, sent by `from_node`: the last sequence number
  // held, or why not (not held here, not from its owner, out of order, past bounds).
  std::optional<std::uint64_t> append(const std::string& id, const std::string& from_node,
                                      std::vector<core::stream_event>& events,
                                      clock::time_point now, std::string& why);
  bool holds(const std::string& id) const { return entries_.count(id) > 0; }
  // The node whose stream the copy of `id` is ("" when none is held here).
  std::string owner_node_of(const std::string& id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? std::string() : it->second.owner_node;
  }
  // Removes and returns the copies of `node`'s streams (it was lost).
  std::vector<replica_open> take_owned_by(const std::string& node);
  // Drops copies whose stream ended more than `linger` ago or that heard nothing for
  // `idle` (an owner that stopped without an end). How many were dropped.
  std::size_t expire(clock::time_point now, clock::duration linger, clock::duration idle);
  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct entry {
    replica_open open;  // events: the log
    std::string owner_node;
    std::size_t bytes = 0;
    bool ended = false;
    clock::time_point last;
  };
  std::map<std::string, entry> entries_;
  std::size_t bytes_ = 0;
};

// Where a promoted stream goes on from, read from the events its replica holds.
struct takeover {
  // A plain answer: all of its text. A research: the text of the round in flight
  // after its heading.
  std::string text;
  bool sources_sent = false;  // the answer (or the round in flight) has its sources out
  bool ended = false;         // the stream has its terminal event: nothing to go on with
  struct round {
    int number = 0;
    std::string kind;
    std::string text;                // heading and answer, as the next rounds see it
    std::vector<std::string> paths;  // from its sources event
    bool heading_sent = false;
  };
  std::vector<round> rounds;  // research: every round begun, the last one in flight
};
takeover takeover_of(const std::vector<core::stream_event>& events);

// The replica node for `stream_id`: the best of the live nodes but `self` and `exclude`
// ("" when there is none).
std::string replica_choice(const core::cluster_view& view, const std::string& stream_id,
                           const std::vector<std::string>& exclude = {});

// Starts replicating the stream behind `hub` (already carrying `log`, its events so far):
// gates the hub and opens the replica. `on_fence` runs (on the replicator) when the
// stream may no longer be served here. `open` names the stream and its request; its
// events are ignored. With no replica to be found at the start (every candidate refused
// it), the stream runs unreplicated, as on a single node.
void start_replication(caf::actor_system& system, std::shared_ptr<engine_context> context,
                       std::shared_ptr<cluster_peers> peers, std::shared_ptr<stream_hub> hub,
                       stream_actor stream, replica_open open, std::vector<core::stream_event> log,
                       std::function<void()> on_fence);

}  // namespace askd::actors
