// core/cluster_view.hpp — what a node knows of its cluster, readable from any thread:
// the members (this node included), their state and load, and the two rules every node
// applies to the same membership to agree without asking each other: rendezvous
// (highest-random-weight) hashing names the owner of a key, and a cluster-wide limit
// is split into shares by weight. The cluster actor (actors/cluster.cpp) writes it;
// the registry, the limiters, the routes and /metrics read it. No threads, no CAF.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace askd::core {

// What a node reports of itself to the others, every heartbeat.
struct node_load {
  std::int64_t streams = 0;         // running or lingering
  std::int64_t provider_calls = 0;  // upstream calls in flight
  std::int64_t queued = 0;          // admitted requests waiting for a provider slot
};

enum class member_state {
  self,     // this node
  joining,  // connected, the hello not answered yet
  up,       // serving: owns keys, has a share of the limits
  down,     // lost (connection broken, or silent past cluster.timeout_ms); tried again
  refused,  // answered, but cannot be a member (another askd version, a name taken)
};
const char* to_string(member_state s);

struct cluster_member {
  std::string name;
  std::string address;  // host:port it listens on for the cluster
  member_state state = member_state::joining;
  std::chrono::system_clock::time_point since;  // when it entered this state
  double weight = 1;
  std::string version;
  std::string detail;  // why it is down or refused
  node_load load;
};

// A live node's name and weight: the input of ownership and shares.
using weighted_node = std::pair<std::string, double>;

// The node among `live` that owns `key`: the highest score of hash(node, key) scaled by
// the node's weight. Every node computes the same answer from the same membership, and a
// membership change moves only the keys whose owner came or went. "" when `live` is empty.
std::string rendezvous_owner(std::string_view key, const std::vector<weighted_node>& live);
// All of `live`, best first for `key` (the owner, then who would own it next).
std::vector<std::string> rendezvous_order(std::string_view key,
                                          const std::vector<weighted_node>& live);

// `self`'s part of a cluster-wide `total` split over `live` by weight (largest remainders,
// ties by name): the parts of all live nodes sum to exactly `total`, so N nodes never
// admit more than the total together. 0 when `self` is not live.
std::int64_t share_of(std::int64_t total, const std::string& self,
                      const std::vector<weighted_node>& live);

class cluster_view {
 public:
  // A single node: itself, up, weight 1. The cluster actor fills in the rest.
  cluster_view(std::string self, double weight, std::string address);

  const std::string& self() const { return self_; }
  // Adds or updates a member (by name); a change of state sets `since` and bumps the
  // generation when it changes who is live.
  void update(const cluster_member& m);
  void set_load(const std::string& name, const node_load& load);
  std::vector<cluster_member> members() const;
  std::vector<weighted_node> live() const;
  std::string owner_of(std::string_view key) const;
  // Changes whenever the set of live nodes does (limits are recomputed on it).
  std::uint64_t generation() const;
  bool clustered() const { return clustered_; }
  void set_clustered() { clustered_ = true; }

  // Quorum, for failover (actors/replication.hpp). The base is the nodes this one counts
  // on: every node that has been up, less each one lost that settle() found lost long
  // enough while this node saw more than half of the base. So the survivors of one loss
  // after another keep a quorum, and a node cut off alone — which loses every other node
  // within one detection time — keeps counting the nodes it cannot see.
  struct quorum {
    std::size_t up = 0;    // live members of the base, this node included
    std::size_t base = 0;
    // More than half of the base is up: this node may hand a stream's replica to another
    // node (it is on the larger side of any partition).
    bool majority() const { return up * 2 > base; }
    // At least half: this node may take over a stream whose owner it lost (the owner's
    // side of an even split has no majority, so it cannot have moved the replica).
    bool half() const { return up * 2 >= base; }
  };
  quorum quorum_now() const;
  // Drops from the base each node lost for `after` or longer, while this node sees more
  // than half of the base (the cluster actor calls it every heartbeat).
  void settle(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration after);

 private:
  quorum quorum_locked() const;  // with mutex_ held

  mutable std::mutex mutex_;
  std::string self_;
  bool clustered_ = false;
  std::vector<cluster_member> members_;
  std::vector<std::string> base_;  // the quorum's base (quorum_now)
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> lost_;  // in base_
  std::uint64_t generation_ = 0;
};

}  // namespace askd::core
