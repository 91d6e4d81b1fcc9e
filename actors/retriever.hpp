// actors/retriever.hpp — one per open repository index: answers searches, so searches
// of different repositories run in parallel and the registry never waits on one. The
// registry holds its handle; dropping it (eviction, shutdown) ends the retriever.
//
// bm25 searches are answered here (the lexical index is memory-mapped: microseconds).
// vector and hybrid searches call an embedder, so each runs in a detached searcher (its
// own thread, gone when it has answered) that the retriever delegates to: it reads or
// builds the chunks' vectors (once per index and embedder), embeds the question,
// ranks by cosine, and for hybrid fuses that with bm25 (reciprocal rank fusion). An
// embedder that fails degrades the search to bm25, and the reply says so.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

retriever_actor spawn_retriever(caf::local_actor& parent,
                                std::shared_ptr<const rag::repo_index> index,
                                std::shared_ptr<engine_context> context);

}  // namespace askd::actors
