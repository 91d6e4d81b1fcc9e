// actors/repo_registry.hpp — one per engine: repository key → index. The first request
// for a key starts one indexer (on a thread of its own: scanning and indexing block);
// every request for the same key that arrives meanwhile waits for that build, so ten
// simultaneous requests for a new repository cause one scan and one index build.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

// The indexing limit (repos.max_concurrent_builds, max_queued_builds) is reported in
// `gauges`, which must outlive the actor. With `peers` (a cluster), a key another node
// owns is searched there (actors/remote_retrieval.hpp).
struct cluster_peers;
repo_registry_actor spawn_repo_registry(caf::actor_system& system,
                                        std::shared_ptr<engine_context> context,
                                        limiter_gauges* gauges,
                                        std::shared_ptr<cluster_peers> peers = nullptr);

}  // namespace askd::actors
