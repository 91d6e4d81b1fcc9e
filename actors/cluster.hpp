// actors/cluster.hpp — a node's membership in a cluster of askd nodes over CAF's
// middleman (docs/ARCHITECTURE.md, Cluster). One cluster actor per node, when
// cluster.listen is set: it is what the node publishes, what peers introduce themselves
// to and monitor, and what serves their cross-node requests (a repository this node owns,
// a stream it owns). It connects to the seeds and to every member they name (full mesh),
// treats a peer actor's down message as that node's loss, tries lost nodes again, keeps
// core::cluster_view current, and gives each limiter this node's share.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <functional>
#include <string>

#include "actors/cluster_messages.hpp"
#include "actors/context.hpp"

namespace askd::actors {

struct stream_directory;

// The cluster actors of the peers that are up, by node name: for the engine (remote
// attach and cancel) and the registry's remote retrievals. Written by the cluster actor.
struct cluster_peers {
  mutable std::mutex mutex;
  std::map<std::string, cluster_actor> up;

  std::optional<cluster_actor> find(const std::string& node) const {
    std::lock_guard lock(mutex);
    auto it = up.find(node);
    if (it == up.end()) return std::nullopt;
    return it->second;
  }
};

// What the cluster actor serves from this node.
struct cluster_services {
  repo_registry_actor registry;
  std::shared_ptr<stream_directory> streams;
  std::map<std::string, limiter_actor> limiters;  // by provider id: their shares
  // Takes over a stream whose owner was lost, from its replica's copy (the engine's).
  std::function<void(replica_open)> promote;
};

// Spawns the cluster actor; publishing it on cluster.listen is the engine's (it must
// fail the start when the port is taken).
cluster_actor spawn_cluster(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            std::shared_ptr<cluster_peers> peers, cluster_services services);

// Why a peer's introduction cannot make it a member ("" when it can): malformed (its
// name, address, version, weight or member list out of bounds), another build, or this
// node's own name.
std::string hello_problem(const node_hello& h, const std::string& self_name);
// Why another node's search cannot be served ("" when it can): the same bounds as a
// client's request (core/chat_request.hpp), checked again on the node that runs it.
std::string remote_search_problem(const remote_search& s);

// The askd build a node must share with its peers: BASP and the cluster's messages
// are not versioned.
const std::string& cluster_version();

}  // namespace askd::actors
