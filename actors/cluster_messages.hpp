// actors/cluster_messages.hpp — the interface between askd nodes: every message and
// type that crosses the middleman (BASP), as actors/messages.hpp is for one node. Each
// type here is plain data with an inspect overload and is registered with CAF
// (add_cluster_types) before the actor system starts: an unregistered type fails only at
// run time. Nothing local (hubs, ports, shared_ptrs, std::optional) appears here.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "core/cluster_view.hpp"

namespace askd::actors {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using events_atom = caf::atom_constant<caf::atom("events")>;
using live_atom = caf::atom_constant<caf::atom("live")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using moved_atom = caf::atom_constant<caf::atom("moved")>;
using replica_atom = caf::atom_constant<caf::atom("replica")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;

// A node introducing itself (and answering an introduction): who it is, which askd
// build (nodes of different builds refuse each other: BASP and these types are not
// versioned), where it listens, its weight, and the addresses of the members it has up,
// so a node that joins through one seed connects to every other directly.
struct node_hello {
  std::string name;
  std::string version;
  std::string address;
  double weight = 1;
  std::vector<std::string> members;  // host:port of the nodes it has up, itself excluded
};

// One search of a repository the receiving node owns (the serialisable retrieval_query):
// the request's repository fields, from which the owner locates the repository and
// builds the file filter under its own configuration (rag::locate_repo), as the asking
// node did under its own.
struct remote_search {
  std::string repo_url;
  std::string type;
  std::string token;  // secret: to clone a private repository; never logged
  std::string excluded_dirs, excluded_files, included_dirs, included_files;
  std::string query;
  std::uint64_t k = 20;
  std::string mode = "bm25";
  std::string embedder;
};

// The owner's answer (retrieval_reply without std::optional).
struct remote_chunks {
  std::vector<rag::context_chunk> chunks;
  bool failed = false;
  core::error failure;
  std::string degraded;
};

// A watcher on another node attaching to a stream this node owns.
struct remote_attach {
  std::string stream_id;
  std::string owner;  // the caller's API key ("" without auth): only the stream's owner may
  std::uint64_t after = 0;
};

// A stream's owner opening its replica on the receiving node (actors/replication.hpp):
// what the replica needs to answer the request itself when the owner is lost, and the
// stream's events so far, from seq 1 (a replica that replaces a lost one gets them all).
struct replica_open {
  std::string stream_id;
  std::string owner;  // the API key that may watch and cancel it ("" without auth)
  bool background = false;
  std::string request_id;
  core::chat_request request;  // secret inside (the token): never logged
  // The replica this one replaces ("" for the first): the receiver takes the place only
  // when it has lost that node too, so a replica cut off from the owner alone is not
  // replaced while it may take the stream over.
  std::string previous;
  std::vector<core::stream_event> events;
};

// A node's cluster actor, as the other nodes see it (actors/cluster.hpp).
using cluster_actor = caf::typed_actor<
    // node -> node: an introduction; answered with the receiver's own.
    caf::replies_to<hello_atom, node_hello>::with<node_hello>,
    // node -> node, every heartbeat: the sender's load, for GET /v1/cluster.
    caf::reacts_to<load_atom, std::string, core::node_load>,
    // node -> owner of a repository key: the best chunks; `progress` messages go to the
    // actor given while the owner clones and indexes.
    caf::replies_to<retrieve_atom, remote_search, caf::actor>::with<remote_chunks>,
    // node -> owner of a stream: attach the given watcher (actors/remote_stream.hpp);
    // answered with the cluster actor of the node that serves it (the receiver, or the
    // node that took it over from the receiver: the request is passed on), or an invalid
    // handle when the stream is not there for that owner. Its events go to the watcher,
    // possibly before this answer.
    caf::replies_to<attach_atom, remote_attach, caf::actor>::with<caf::actor>,
    // watcher -> owner: it has written `bytes` more of what it was sent.
    caf::reacts_to<ack_atom, caf::actor, std::uint64_t>,
    // watcher -> owner: its client went away.
    caf::reacts_to<gone_atom, caf::actor>,
    // node -> owner of a stream: cancel it; false when it is not there for that owner
    // (passed on, as an attach, when the receiver's stream was taken over).
    caf::replies_to<cancel_atom, std::string, std::string>::with<bool>,
    // stream owner -> its replica's node: hold this stream's events (replica_open);
    // answered with the last sequence number held, or an error when refused.
    caf::replies_to<replica_atom, replica_open>::with<std::uint64_t>,
    // stream owner -> its replica's node: the stream's next events, in order; answered
    // with the last sequence number held (an error when the replica is not there any more).
    caf::replies_to<replicate_atom, std::string, std::vector<core::stream_event>>::with<
        std::uint64_t>,
    // cluster actor -> itself: connect what is not connected, send the load.
    caf::reacts_to<tick_atom>>;

// Registers every type above (and the local ones they carry) with CAF.
void add_cluster_types(caf::actor_system_config& cfg);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_hello& x) {
  return f(caf::meta::type_name("node_hello"), x.name, x.version, x.address, x.weight, x.members);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_search& x) {
  return f(caf::meta::type_name("remote_search"), x.repo_url, x.type, x.token, x.excluded_dirs,
           x.excluded_files, x.included_dirs, x.included_files, x.query, x.k, x.mode, x.embedder);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_chunks& x) {
  return f(caf::meta::type_name("remote_chunks"), x.chunks, x.failed, x.failure, x.degraded);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_attach& x) {
  return f(caf::meta::type_name("remote_attach"), x.stream_id, x.owner, x.after);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_open& x) {
  return f(caf::meta::type_name("replica_open"), x.stream_id, x.owner, x.background, x.request_id,
           x.request, x.previous, x.events);
}

}  // namespace askd::actors

namespace askd::core {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.role, x.content);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retrieval_options& x) {
  return f(caf::meta::type_name("retrieval_options"), x.mode, x.top_k, x.embedder);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_request& x) {
  return f(caf::meta::type_name("chat_request"), x.repo_url, x.messages, x.file_path, x.token,
           x.type, x.provider, x.model, x.language, x.excluded_dirs, x.excluded_files,
           x.included_dirs, x.included_files, x.deep_research, x.max_rounds, x.retrieval, x.ref,
           x.fallback, x.source_text, x.cache);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_load& x) {
  return f(caf::meta::type_name("node_load"), x.streams, x.provider_calls, x.queued);
}
}  // namespace askd::core

namespace askd::rag {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, context_chunk& x) {
  return f(caf::meta::type_name("context_chunk"), x.path, x.start_line, x.end_line, x.text,
           x.score);
}
}  // namespace askd::rag
