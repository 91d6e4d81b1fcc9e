#include "actors/cluster.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <set>

#include "actors/remote_retrieval.hpp"
#include "actors/remote_stream.hpp"
#include "actors/replication.hpp"
#include "actors/sink.hpp"
#include "actors/stream.hpp"
#include "core/log.hpp"
#include "rag/file_filter.hpp"

namespace askd::actors {

const std::string& cluster_version() {
  // The askd version and the CAF it was built with: both shape what crosses the wire.
  static const std::string v =
      std::string(ASKD_VERSION) + "/caf-" + std::to_string(CAF_MAJOR_VERSION) + "." +
      std::to_string(CAF_MINOR_VERSION) + "." + std::to_string(CAF_PATCH_VERSION);
  return v;
}

void add_cluster_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<core::error>("askd::error");
  cfg.add_message_type<core::stream_event>("askd::stream_event");
  cfg.add_message_type<std::vector<core::stream_event>>("askd::stream_events");
  cfg.add_message_type<core::node_load>("askd::node_load");
  cfg.add_message_type<rag::context_chunk>("askd::context_chunk");
  cfg.add_message_type<std::vector<rag::context_chunk>>("askd::context_chunks");
  cfg.add_message_type<node_hello>("askd::node_hello");
  cfg.add_message_type<remote_search>("askd::remote_search");
  cfg.add_message_type<remote_chunks>("askd::remote_chunks");
  cfg.add_message_type<remote_attach>("askd::remote_attach");
  cfg.add_message_type<core::chat_message>("askd::chat_message");
  cfg.add_message_type<std::vector<core::chat_message>>("askd::chat_messages");
  cfg.add_message_type<core::retrieval_options>("askd::retrieval_options");
  cfg.add_message_type<core::chat_request>("askd::chat_request");
  cfg.add_message_type<replica_open>("askd::replica_open");
}

namespace {

using clock = std::chrono::steady_clock;

// A remote watcher of one of this node's streams (actors/remote_stream.hpp).
struct relay_entry {
  sink_actor sink;
  std::weak_ptr<stream_hub> hub;
  std::shared_ptr<relay_port> port;
};

struct cluster_state {
  std::shared_ptr<engine_context> context;
  std::shared_ptr<cluster_peers> peers;
  cluster_services services;
  caf::io::middleman_actor connector;  // plain or TLS, as the cluster is configured
  std::string self_name;
  std::string self_address;
  // Every address this node keeps a connection to: the seeds, and what members named.
  std::set<std::string> addresses;
  std::set<std::string> connecting;
  std::map<std::string, clock::time_point> last_try;  // by address
  std::map<std::string, std::string> failing;         // address → the last error, logged once
  std::map<caf::actor_addr, std::string> node_of;     // a peer's cluster actor → its name
  std::map<std::string, std::string> address_of;      // node name → address
  // The name each node process (CAF node id: host and pid) was admitted under: a process
  // keeps its name for life. Kept after the node is lost; cleared past max_known_nodes.
  std::map<caf::node_id, std::string> name_of_node;
  std::map<caf::actor_addr, relay_entry> relays;      // by watcher
  replica_store replicas;  // copies of other nodes' streams (actors/replication.hpp)
  // Watchers that asked for a stream this node holds a copy of, before it took it over.
  struct pending_attach {
    remote_attach what;
    caf::actor watcher;
    caf::typed_response_promise<caf::actor> answer;
  };
  std::map<std::string, std::vector<pending_attach>> pending;
  std::uint64_t generation = ~std::uint64_t{0};
  static inline const char* name = "cluster";
};

using self_ptr = cluster_actor::stateful_pointer<cluster_state>;

node_hello my_hello(self_ptr self) {
  auto& st = self->state;
  node_hello h;
  h.name = st.self_name;
  h.version = cluster_version();
  h.address = st.self_address;
  h.weight = st.context->config.cluster.weight;
  std::lock_guard lock(st.peers->mutex);
  for (const auto& [name, handle] : st.peers->up)
    if (auto it = st.address_of.find(name); it != st.address_of.end())
      h.members.push_back(it->second);
  return h;
}

core::node_load my_load(const engine_context& context) {
  core::node_load l;
  l.streams = context.census.streams + context.census.lingering;
  l.provider_calls = context.census.provider_calls;
  l.queued = context.queued_requests;
  return l;
}

// Live nodes changed: every limiter gets this node's share, and the log says who is in.
void membership_changed(self_ptr self) {
  auto& st = self->state;
  const auto& view = *st.context->cluster;
  auto generation = view.generation();
  if (generation == st.generation) return;
  st.generation = generation;
  auto live = view.live();
  std::string names;
  double weights = 0;
  for (const auto& [name, weight] : live) {
    names += (names.empty() ? "" : ",") + name;
    weights += weight;
  }
  const auto& cfg = st.context->config;
  st.context->client_rate_share = weights > 0 ? cfg.cluster.weight / weights : 1.0;
  for (const auto& [id, limiter] : st.services.limiters)
    self->send(limiter, capacity_atom::value,
               core::share_of(cfg.limits.for_provider(id).max_concurrent, st.self_name, live));
  core::log_info("cluster membership")
      .kv("node", st.self_name)
      .kv("live", names)
      .kv("nodes", static_cast<std::int64_t>(live.size()));
}

core::cluster_member member_of(const node_hello& h, core::member_state state,
                               std::string detail = {}) {
  core::cluster_member m;
  m.name = h.name;
  m.address = h.address;
  m.state = state;
  m.weight = h.weight;
  m.version = h.version;
  m.detail = std::move(detail);
  return m;
}

}  // namespace

std::string hello_problem(const node_hello& h, const std::string& self_name) {
  if (!core::is_node_name(h.name) || !core::parse_host_port(h.address) || h.version.size() > 64 ||
      !(h.weight > 0 && h.weight <= 1000) || h.members.size() > 1024)
    return "sent a malformed introduction";
  if (h.version != cluster_version())
    return "runs askd " + h.version + ", this node " + cluster_version() +
           " (all nodes must run the same build)";
  if (h.name == self_name) return "has this node's name";
  return {};
}

std::string remote_search_problem(const remote_search& s) {
  if (auto why = core::repository_fields_problem(s); !why.empty()) return why;
  if (s.query.size() > (1u << 20) || s.token.size() > 4096 || s.mode.size() > 16 ||
      s.embedder.size() > 256)
    return "a field is past its bound";
  return {};
}

namespace {

// Whether `h` may be a member; logs why not.
bool acceptable(self_ptr self, const node_hello& h) {
  auto& st = self->state;
  auto why = hello_problem(h, st.self_name);
  if (why.empty()) return true;
  core::log_error("cluster peer refused")
      .kv("peer", core::clip(h.name, 64))
      .kv("address", core::clip(h.address, 64))
      .kv("why", why);
  auto m = member_of(h, core::member_state::refused, why);
  if (core::is_node_name(h.name) && h.name != st.self_name) st.context->cluster->update(m);
  return false;
}

void connect_missing(self_ptr self);

// `h` introduced itself (or answered our introduction) from `handle`: a member now.
// False when the hello is to fail, so that the node says it again (below).
bool admit(self_ptr self, const node_hello& h, cluster_actor handle) {
  auto& st = self->state;
  if (!acceptable(self, h)) return true;
  // CAF 0.17 takes a message's sender to be on the node at the other end of the
  // connection it came in on. After this node was stopped (a partition's end, a pause),
  // its peers' new connections can be taken for the closed ones of other peers for a
  // moment: c's hello came from b's actor (cluster tests). Admitted, b's actor became
  // c's member handle, and the lost c stayed up with it. A process that was admitted
  // under another name is such a mix-up: refused here, and the hello fails, so that the
  // node says hello again (after cluster.reconnect_ms, as after any failed connect).
  constexpr std::size_t max_known_nodes = 4096;
  if (auto known = st.name_of_node.find(handle.node());
      known != st.name_of_node.end() && known->second != h.name) {
    core::log_warn("cluster hello refused")
        .kv("peer", h.name)
        .kv("from", known->second)
        .kv("why", "it came from " + known->second + "'s node: a connection mixed up");
    return false;
  }
  {
    std::lock_guard lock(st.peers->mutex);
    auto it = st.peers->up.find(h.name);
    if (it != st.peers->up.end()) {
      if (it->second.address() == handle.address()) return true;  // known already
      // The same name from another address while the first is up: two nodes were given
      // one name. A node that came back (same address) replaces its old self.
      if (st.address_of[h.name] != h.address) {
        core::log_error("cluster peer refused")
            .kv("peer", h.name)
            .kv("address", h.address)
            .kv("why", "the name is taken by the member at " + st.address_of[h.name]);
        return true;
      }
    }
    st.peers->up[h.name] = handle;
  }
  st.node_of[handle.address()] = h.name;
  st.address_of[h.name] = h.address;
  if (st.name_of_node.size() >= max_known_nodes) st.name_of_node.clear();
  st.name_of_node[handle.node()] = h.name;
  self->monitor(handle);
  st.failing.erase(h.address);
  st.context->cluster->update(member_of(h, core::member_state::up));
  core::log_info("cluster node up").kv("node", h.name).kv("address", h.address);
  st.addresses.insert(h.address);
  for (const auto& a : h.members)
    if (core::parse_host_port(a) && st.addresses.size() < 1024) st.addresses.insert(a);
  membership_changed(self);
  connect_missing(self);
  return true;
}

void connect_failed(self_ptr self, const std::string& address, const std::string& why) {
  auto& st = self->state;
  st.connecting.erase(address);
  auto& last = st.failing[address];
  if (last != why)  // once per cause, not every retry
    core::log_warn("cluster connect failed").kv("address", address).kv("error", why);
  last = why;
}

void connect(self_ptr self, const std::string& address) {
  auto& st = self->state;
  auto hp = core::parse_host_port(address);
  if (!hp) return;
  st.connecting.insert(address);
  st.last_try[address] = clock::now();
  auto timeout = std::chrono::milliseconds(st.context->config.cluster.connect_timeout_ms);
  // A timed request to the middleman, not caf::io::remote_actor (which blocks without a
  // time limit); the BASP handshake has none either, hence the timeout here.
  self->request(st.connector, timeout, caf::connect_atom::value, hp->first, hp->second)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            if (!ptr) return connect_failed(self, address, "no cluster actor published there");
            if (ptr->node() == self->node())
              return connect_failed(self, address, "that address is this node");
            auto handle = caf::actor_cast<cluster_actor>(ptr);
            self->request(handle, timeout, hello_atom::value, my_hello(self))
                .then(
                    [=](node_hello& theirs) {
                      self->state.connecting.erase(address);
                      if (!admit(self, theirs, handle))
                        connect_failed(self, address, "its reply was taken for another member's");
                    },
                    [=](caf::error& err) { connect_failed(self, address, caf::to_string(err)); });
          },
          [=](caf::error& err) { connect_failed(self, address, caf::to_string(err)); });
}

// Dials every known address that has no member up behind it, at most once per
// cluster.reconnect_ms each.
void connect_missing(self_ptr self) {
  auto& st = self->state;
  std::set<std::string> up_addresses;
  {
    std::lock_guard lock(st.peers->mutex);
    for (const auto& [name, handle] : st.peers->up) up_addresses.insert(st.address_of[name]);
  }
  auto now = clock::now();
  auto every = std::chrono::milliseconds(st.context->config.cluster.reconnect_ms);
  for (const auto& a : st.addresses) {
    if (a == st.self_address || up_addresses.count(a) || st.connecting.count(a)) continue;
    auto last = st.last_try.find(a);
    if (last != st.last_try.end() && now - last->second < every) continue;
    connect(self, a);
  }
}

// Whether the current request comes from a node that is a member now: a refused peer
// (another build) or a stranger on an insecure port gets nothing served.
bool from_member(self_ptr self) {
  const auto& sender = self->current_sender();
  if (!sender) return false;
  if (sender->node() == self->node()) return true;
  std::lock_guard lock(self->state.peers->mutex);
  for (const auto& [name, handle] : self->state.peers->up)
    if (handle.node() == sender->node()) return true;
  return false;
}

caf::error not_a_member() {
  return caf::make_error(caf::sec::request_receiver_down);
}

void detach_watcher(self_ptr self, const caf::actor_addr& watcher) {
  auto& st = self->state;
  auto it = st.relays.find(watcher);
  if (it == st.relays.end()) return;
  if (auto hub = it->second.hub.lock()) hub->detach(it->second.sink.id());
  self->send(it->second.sink, gone_atom::value);
  st.relays.erase(it);
}

// Attaches `watcher` to a stream of this node's directory; false when it is not there for
// that owner.
bool attach_watcher(self_ptr self, const remote_attach& a, const caf::actor& watcher) {
  auto& st = self->state;
  auto entry = st.services.streams->find(a.stream_id, a.owner);
  if (!entry || !watcher) return false;
  auto port = std::make_shared<relay_port>(watcher, caf::actor_cast<cluster_actor>(self));
  self->monitor(watcher);
  auto sink = spawn_sink(self->system(), st.context, port, entry->stream, entry->hub, a.after);
  st.relays[watcher.address()] = relay_entry{sink, entry->hub, port};
  return true;
}

// Watchers waiting for `id` are attached now (it was taken over), or told it is not here.
void settle_pending(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto it = st.pending.find(id);
  if (it == st.pending.end()) return;
  auto waiting = std::move(it->second);
  st.pending.erase(it);
  for (auto& p : waiting)
    p.answer.deliver(attach_watcher(self, p.what, p.watcher) ? caf::actor_cast<caf::actor>(self)
                                                             : caf::actor{});
}

// `node` was lost: the streams it owned that this node holds copies of are taken over
// here, when this node sees at least half of the cluster (else the owner may be on the
// larger side of a partition, still serving them: the copies are dropped).
void take_over(self_ptr self, const std::string& node) {
  auto& st = self->state;
  auto copies = st.replicas.take_owned_by(node);
  st.context->metrics.replicas_held = static_cast<std::int64_t>(st.replicas.size());
  if (copies.empty()) return;
  auto q = st.context->cluster->quorum_now();
  for (auto& c : copies) {
    auto id = c.stream_id;
    if (q.half() && st.services.promote) {
      st.services.promote(std::move(c));
    } else {
      core::log_warn("stream not taken over")
          .kv("stream", id)
          .kv("node", node)
          .kv("why", "this node sees " + std::to_string(q.up) + " of " + std::to_string(q.base) +
                         " nodes (less than half)");
    }
    settle_pending(self, id);
  }
}

// For a stream of this node's that is not here (fenced: another node took it over while
// this one was cut off), the node that has it: its replica, the best other live node for
// the id. Asked by a node that still routes the id here. nullopt for anything else.
std::optional<cluster_actor> taken_from_here(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (core::node_of_stream(id) != st.self_name) return std::nullopt;
  auto node = replica_choice(*st.context->cluster, id);
  if (node.empty()) return std::nullopt;
  return st.peers->find(node);
}

// Whether this node's copy of `id` is one another node took over and copies on here,
// and that node is up in this node's view: it serves the stream, this node does not.
// After the owner's loss this node is a candidate for the id (a node that joined during
// the stream may rank first): an asker is told so at once, and asks the next candidate.
// A copy from the stream's own node, or from a taker seen lost, is waited on: this node
// takes it over on that loss.
bool served_by_taker(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto taker = st.replicas.owner_node_of(id);
  return !taker.empty() && taker != core::node_of_stream(id) && st.peers->find(taker);
}

// The name of the member the current message comes from ("" for none).
std::string sender_node(self_ptr self) {
  const auto& sender = self->current_sender();
  if (!sender) return {};
  std::lock_guard lock(self->state.peers->mutex);
  for (const auto& [name, handle] : self->state.peers->up)
    if (handle.node() == sender->node()) return name;
  return {};
}

caf::error refused_replica(self_ptr self, const std::string& what, const std::string& id,
                           const std::string& why) {
  core::log_warn(what)
      .kv("stream", core::clip(id, 128))
      .kv("peer", sender_node(self))
      .kv("why", why);
  return caf::make_error(caf::sec::invalid_argument);
}

// A peer's cluster actor went down: its node is lost (or, for a watcher, its client).
void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (st.relays.count(msg.source)) return detach_watcher(self, msg.source);
  auto it = st.node_of.find(msg.source);
  if (it == st.node_of.end()) return;
  auto name = it->second;
  st.node_of.erase(it);
  {
    std::lock_guard lock(st.peers->mutex);
    auto up = st.peers->up.find(name);
    if (up == st.peers->up.end() || up->second.address() != msg.source) return;  // replaced
    st.peers->up.erase(up);
  }
  core::cluster_member m;
  m.name = name;
  m.address = st.address_of[name];
  m.state = core::member_state::down;
  m.detail = caf::to_string(msg.reason);
  m.weight = 0;
  for (const auto& known : st.context->cluster->members())
    if (known.name == name) {
      m.weight = known.weight;
      m.version = known.version;
    }
  st.context->cluster->update(m);
  core::log_warn("cluster node lost").kv("node", name).kv("reason", m.detail);
  membership_changed(self);
  take_over(self, name);
}

// Serves another node's search of a repository this node owns.
caf::result<remote_chunks> serve_retrieval(self_ptr self, remote_search& s,
                                           const caf::actor& progress) {
  auto& st = self->state;
  // The asking node checked the request it came from; a peer's bytes are checked again.
  if (auto why = remote_search_problem(s); !why.empty())
    return to_remote(retrieval_reply::failed(
        core::error::make(core::error_code::bad_request, "retrieval: " + why)));
  core::chat_request request;
  request.repo_url = s.repo_url;
  request.type = s.type;
  request.token = s.token;
  request.excluded_dirs = s.excluded_dirs;
  request.excluded_files = s.excluded_files;
  request.included_dirs = s.included_dirs;
  request.included_files = s.included_files;
  // Located under this node's configuration, as on the node that asked.
  auto source = rag::locate_repo(request, st.context->config);
  if (!source) return to_remote(retrieval_reply::failed(source.err()));
  retrieval_query q;
  q.request = std::make_shared<const core::chat_request>(request);
  q.source = std::move(*source);
  q.token = std::move(s.token);
  q.filter = std::make_shared<const rag::file_filter>(st.context->config.repo, request);
  q.search.query = std::move(s.query);
  q.search.k = static_cast<std::size_t>(std::min<std::uint64_t>(s.k, 1000));
  q.search.mode = std::move(s.mode);
  q.search.embedder = std::move(s.embedder);
  q.search.on_progress = [progress](const std::string& phase, std::int64_t done,
                                    std::int64_t total) {
    caf::anon_send(progress, progress_atom::value, phase, done, total);
  };
  q.here = true;
  auto rp = self->make_response_promise<remote_chunks>();
  self->request(st.services.registry, caf::infinite, retrieve_atom::value, std::move(q))
      .then([=](retrieval_reply& r) mutable { rp.deliver(to_remote(std::move(r))); },
            [=](caf::error& err) mutable {
              rp.deliver(to_remote(retrieval_reply::failed(
                  core::error::make(core::error_code::internal, caf::to_string(err)))));
            });
  return rp;
}

cluster_actor::behavior_type cluster(self_ptr self, std::shared_ptr<engine_context> context,
                                     std::shared_ptr<cluster_peers> peers,
                                     cluster_services services) {
  auto& st = self->state;
  st.context = std::move(context);
  st.peers = std::move(peers);
  st.services = std::move(services);
  const auto& cfg = st.context->config.cluster;
  st.self_name = cfg.node;
  st.self_address = cfg.listen;
  st.connector = cfg.insecure ? self->system().middleman().actor_handle()
                              : self->system().openssl_manager().actor_handle();
  for (const auto& seed : cfg.seeds) st.addresses.insert(seed);
  self->set_down_handler([=](caf::down_msg& msg) { on_down(self, msg); });
  membership_changed(self);
  return {
      [=](hello_atom, node_hello& h) -> caf::result<node_hello> {
        auto handle = caf::actor_cast<cluster_actor>(self->current_sender());
        if (handle && !admit(self, h, handle))
          return caf::make_error(caf::sec::request_receiver_down);  // say it again
        return my_hello(self);
      },
      [=](load_atom, const std::string& node, const core::node_load& load) {
        if (from_member(self)) self->state.context->cluster->set_load(node, load);
      },
      [=](retrieve_atom, remote_search& s,
          const caf::actor& progress) -> caf::result<remote_chunks> {
        if (!from_member(self)) return not_a_member();
        return serve_retrieval(self, s, progress);
      },
      [=](attach_atom, const remote_attach& a,
          const caf::actor& watcher) -> caf::result<caf::actor> {
        auto& st = self->state;
        if (!from_member(self)) return not_a_member();
        if (attach_watcher(self, a, watcher)) return caf::actor_cast<caf::actor>(self);
        if (auto next = taken_from_here(self, a.stream_id))
          return self->delegate(*next, attach_atom::value, a, watcher);
        if (served_by_taker(self, a.stream_id)) return caf::actor{};
        // A copy not taken over yet (this node has not seen its owner's loss): the
        // watcher waits for the takeover, within its request's timeout.
        auto& waiting = st.pending[a.stream_id];
        if (!watcher || !st.replicas.holds(a.stream_id) || waiting.size() >= 64) {
          if (waiting.empty()) st.pending.erase(a.stream_id);
          return caf::actor{};
        }
        waiting.push_back({a, watcher, self->make_response_promise<caf::actor>()});
        return waiting.back().answer;
      },
      [=](replica_atom, replica_open& r) -> caf::result<std::uint64_t> {
        auto& st = self->state;
        auto node = sender_node(self);
        if (node.empty()) return not_a_member();
        auto id = r.stream_id;
        if (!r.previous.empty() && st.peers->find(r.previous))
          return refused_replica(self, "replica refused", id,
                                 "its replica " + core::clip(r.previous, 64) + " is up here");
        if (st.services.streams->find(id, r.owner))
          return refused_replica(self, "replica refused", id, "this node serves that stream");
        auto last = r.events.empty() ? 0 : r.events.back().seq;
        if (auto why = st.replicas.open(std::move(r), node, clock::now()); !why.empty())
          return refused_replica(self, "replica refused", id, why);
        st.context->metrics.replicas_held = static_cast<std::int64_t>(st.replicas.size());
        return last;
      },
      [=](replicate_atom, const std::string& id,
          std::vector<core::stream_event>& events) -> caf::result<std::uint64_t> {
        auto& st = self->state;
        auto node = sender_node(self);
        if (node.empty()) return not_a_member();
        std::string why;
        auto held = st.replicas.append(id, node, events, clock::now(), why);
        if (!held) return refused_replica(self, "replica events refused", id, why);
        return *held;
      },
      [=](ack_atom, const caf::actor& watcher, std::uint64_t bytes) {
        auto& st = self->state;
        auto it = st.relays.find(watcher.address());
        if (it != st.relays.end()) it->second.port->acked(bytes);
      },
      [=](gone_atom, const caf::actor& watcher) { detach_watcher(self, watcher.address()); },
      [=](cancel_atom, const std::string& id, const std::string& owner) -> caf::result<bool> {
        if (!from_member(self)) return not_a_member();
        auto entry = self->state.services.streams->find(id, owner);
        if (!entry) {
          if (auto next = taken_from_here(self, id))
            return self->delegate(*next, cancel_atom::value, id, owner);
          return false;
        }
        self->send(entry->stream, cancel_atom::value);
        return true;
      },
      [=](tick_atom) {
        auto& st = self->state;
        auto load = my_load(*st.context);
        st.context->cluster->set_load(st.self_name, load);
        std::vector<cluster_actor> up;
        {
          std::lock_guard lock(st.peers->mutex);
          for (const auto& [name, handle] : st.peers->up) up.push_back(handle);
        }
        for (const auto& handle : up) self->send(handle, load_atom::value, st.self_name, load);
        connect_missing(self);
        // Nodes lost long enough (every loss of a partition shows within one detection
        // time) leave the quorum's base while this node sees a majority.
        const auto& cfg = st.context->config;
        st.context->cluster->settle(
            clock::now(),
            std::chrono::milliseconds(cfg.cluster.timeout_ms + cfg.cluster.heartbeat_ms));
        // Copies of streams that ended (kept as long as their owner keeps them) or whose
        // owner went quiet without an end.
        auto linger = std::chrono::seconds(cfg.streams.linger_s);
        if (st.replicas.expire(clock::now(), linger,
                               linger + std::chrono::milliseconds(cfg.limits.request_timeout_ms)))
          st.context->metrics.replicas_held = static_cast<std::int64_t>(st.replicas.size());
        for (auto it = st.pending.begin(); it != st.pending.end();) {
          auto id = (it++)->first;
          if (!st.replicas.holds(id)) settle_pending(self, id);
        }
        self->delayed_send(self, std::chrono::milliseconds(st.context->config.cluster.heartbeat_ms),
                           tick_atom::value);
      },
  };
}

}  // namespace

cluster_actor spawn_cluster(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            std::shared_ptr<cluster_peers> peers, cluster_services services) {
  return system.spawn(cluster, std::move(context), std::move(peers), std::move(services));
}

}  // namespace askd::actors
