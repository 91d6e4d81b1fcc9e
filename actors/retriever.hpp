// actors/retriever.hpp — one per open repository index: answers searches, so searches
// of different repositories run in parallel and the registry never waits on one. The
// registry holds its handle; dropping it (eviction, shutdown) ends the retriever.
#pragma once

#include <memory>

#include "actors/messages.hpp"

namespace askd::actors {

retriever_actor spawn_retriever(caf::local_actor& parent,
                                std::shared_ptr<const rag::repo_index> index);

}  // namespace askd::actors
