// actors/parallel.hpp — how the engine runs rag's parallel steps (index shards): one
// thread per task, the caller's thread taking the first. rag never starts threads; the
// indexer, already on a thread of its own, lends it these.
#pragma once

#include "rag/repo_source.hpp"

namespace askd::actors {

// Runs the tasks on threads of their own and rethrows the first exception after all end.
const rag::task_runner& thread_runner();

// How many shards an index build uses: one per core, at most 8.
std::size_t index_shards();

}  // namespace askd::actors
