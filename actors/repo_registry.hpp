// actors/repo_registry.hpp — one per engine: repository key → index. The first request
// for a key starts one indexer (on a thread of its own: scanning and indexing block);
// every request for the same key that arrives meanwhile waits for that build, so ten
// simultaneous requests for a new repository cause one scan and one index build.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

repo_registry_actor spawn_repo_registry(caf::actor_system& system,
                                        std::shared_ptr<engine_context> context);

}  // namespace askd::actors
