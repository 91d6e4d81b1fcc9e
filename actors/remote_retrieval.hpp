// actors/remote_retrieval.hpp — a retrieval whose repository another node owns. The
// registry delegates such a query here: it asks the owner's cluster actor (the search
// crosses nodes, chunks come back serialised), passes the owner's clone and build
// progress to the waiting stream, and when the owner's node is lost before it answers,
// asks whoever owns the key now (maybe this node) until the request's deadline.
#pragma once

#include <chrono>
#include <memory>

#include "actors/cluster_messages.hpp"
#include "actors/context.hpp"

namespace askd::actors {

struct cluster_peers;

using remote_retrieval_actor = caf::typed_actor<
    // registry -> remote retrieval (delegated): the chunks, from the key's owner.
    caf::replies_to<retrieve_atom, retrieval_query>::with<retrieval_reply>,
    // owner -> remote retrieval: its clone or build is at `done` of `total` in `phase`.
    caf::reacts_to<progress_atom, std::string, std::int64_t, std::int64_t>,
    // itself -> itself: ask again, after the owner asked was lost.
    caf::reacts_to<tick_atom>>;

remote_retrieval_actor spawn_remote_retrieval(caf::local_actor& parent,
                                              std::shared_ptr<engine_context> context,
                                              std::shared_ptr<cluster_peers> peers,
                                              repo_registry_actor registry);

// The serialisable form of a query, for its owner.
remote_search to_remote(const retrieval_query& q);
remote_chunks to_remote(retrieval_reply r);
retrieval_reply from_remote(remote_chunks r);

}  // namespace askd::actors
