#include "actors/engine.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "actors/cluster.hpp"
#include "actors/limiter.hpp"
#include "actors/messages.hpp"
#include "actors/remote_stream.hpp"
#include "actors/replication.hpp"
#include "actors/repo_registry.hpp"
#include "actors/scheduler.hpp"
#include "actors/session.hpp"
#include "actors/sink.hpp"
#include "actors/stream.hpp"
#include "actors/timer.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"

namespace askd::actors {

// The engine's long-lived actors: held here, because an actor nobody holds is terminated.
struct engine_actors {
  std::shared_ptr<const engine_refs> refs;
  // In a cluster: the peers' cluster actors and this node's.
  std::shared_ptr<cluster_peers> peers;
  std::optional<cluster_actor> cluster;
  std::map<std::string, limiter_gauges*> gauges;  // by provider id, for precheck()
  std::shared_ptr<stream_directory> directory = std::make_shared<stream_directory>();
};

struct attachment::state {
  sink_actor sink;
  std::string stream_id;
  std::weak_ptr<stream_hub> hub;  // the port leaves it at once (a paced one may outlive the sink)
  // A compat stream has no stream or sink actor: its session is the stream, and the
  // client leaving stops it (nobody can resume it). Weak: a session that has ended is
  // not kept in memory by its connection.
  caf::actor_addr session;
};

namespace {
// The hub key of a compat stream's one port (a sink's port is keyed by the sink's id).
constexpr std::uint64_t compat_port_key = 1;
}  // namespace

void attachment::client_gone() const {
  if (!state_) return;
  auto key = state_->sink ? state_->sink.id() : compat_port_key;
  if (auto hub = state_->hub.lock()) hub->detach(key);
  if (state_->sink) caf::anon_send(state_->sink, gone_atom::value);
  if (auto session = caf::actor_cast<caf::actor>(state_->session))
    caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
}

const std::string& attachment::stream_id() const {
  static const std::string none;
  return state_ ? state_->stream_id : none;
}

namespace {

// The middleman (and OpenSSL) modules, heartbeats and the cross-node types: only when
// clustered, so a single node starts no network thread of CAF's.
void configure_cluster(caf::actor_system_config& cfg, const core::cluster_settings& cluster) {
  cfg.load<caf::io::middleman>();
  // CAF 0.17 has no node-down message and no heartbeats by default: a silent peer (power
  // loss, partition) is seen only through these.
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds(cluster.heartbeat_ms)});
  cfg.set("middleman.connection-timeout",
          caf::timespan{std::chrono::milliseconds(cluster.timeout_ms)});
  // Every pair is connected directly: a message routed through a third node is lost
  // when that node fails.
  cfg.set("middleman.enable-automatic-connections", false);
  if (!cluster.insecure) {
    cfg.load<caf::openssl::manager>();
    cfg.set("openssl.certificate", cluster.certificate);
    cfg.set("openssl.key", cluster.key);
    cfg.set("openssl.cafile", cluster.cafile);
    if (!cluster.passphrase.empty()) cfg.set("openssl.passphrase", cluster.passphrase);
  }
  add_cluster_types(cfg);
}

}  // namespace

engine::engine(std::shared_ptr<engine_context> context)
    : context_(std::move(context)), config_(std::make_unique<caf::actor_system_config>()) {
  auto workers = context_->config.engine.workers;
  // Default: a core each, but one: the io and curl threads need a core too, and a worker
  // more than the cores turns every message hop into a context switch (bench/RESULTS.md,
  // relay benchmark: 10% less CPU per delta on 2 cores).
  if (workers <= 0)
    workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()) - 1);
  workers = std::max(workers, 1);
  config_->set("scheduler.max-threads", static_cast<size_t>(workers));
  // CAF's default idle policy sleep-polls every 50 us for 25 ms before it blocks: with
  // streams pausing ~20 ms between tokens, workers never block and burn a core in
  // wakeups. Spin briefly, then block until work is enqueued.
  config_->set("work-stealing.moderate-poll-attempts", size_t{0});
  // A blocked worker still wakes every relaxed-sleep-duration (CAF: 10 ms) to try stealing
  // from the others: 100 wakes a second per idle worker, a futex and a context switch
  // each, which showed as CAF's share of every delta while streams only wait for tokens
  // (bench/RESULTS.md). Work sent to a blocked worker wakes it at once; this only delays
  // an idle worker's help with a busy one's queue, which the busy one runs meanwhile.
  config_->set("work-stealing.relaxed-sleep-duration",
               caf::timespan{std::chrono::milliseconds(100)});
  use_quiet_clock(*config_);  // no clock wake for each actor that ends (actors/scheduler.hpp)
  if (!context_->answers)
    context_->answers = std::make_shared<answer_cache>(context_->config.answer_cache);
  const auto& cluster = context_->config.cluster;
  if (!context_->cluster)
    context_->cluster = std::make_shared<core::cluster_view>(
        cluster.enabled() ? cluster.node : "local", cluster.weight, cluster.listen);
  if (cluster.enabled()) {
    configure_cluster(*config_, cluster);
    auto me = context_->cluster->members().front();
    me.version = cluster_version();
    context_->cluster->update(me);
  }
  system_ = std::make_unique<caf::actor_system>(*config_);
  // CAF 0.17 keeps a reference to its logger in the constructing thread's thread-local
  // storage, and ~actor_system waits for the logger to die: destroyed from any other
  // thread (askd stops from its signal thread, tests from helpers), it would wait
  // forever. The reference is dropped at the end of this constructor; threads that
  // spawn later (io threads) release theirs when they exit.
  actors_ = std::make_shared<engine_actors>();
  auto refs = std::make_shared<engine_refs>();
  refs->timers = spawn_never(*system_);
  if (cluster.enabled()) actors_->peers = std::make_shared<cluster_peers>();
  refs->registry = spawn_repo_registry(
      *system_, context_, &context_->limiters.emplace_back("indexing"), actors_->peers);
  for (const auto& p : context_->config.generator.providers) {
    auto& gauges = context_->limiters.emplace_back("provider:" + p.id);
    actors_->gauges[p.id] = &gauges;
    refs->limiters[p.id] =
        spawn_limiter(*system_, context_, context_->config.limits.for_provider(p.id), &gauges);
  }
  actors_->refs = std::move(refs);
  if (cluster.enabled()) {
    try {
      start_cluster();
    } catch (...) {  // the cluster's port is taken: stop what runs, or ~actor_system waits
      stop_actors();
      caf::logger::set_current_actor_system(nullptr);
      throw;
    }
  }
  caf::logger::set_current_actor_system(nullptr);  // last: spawning sets it again
}

void engine::start_cluster() {
  const auto& cluster = context_->config.cluster;
  cluster_services services;
  services.registry = actors_->refs->registry;
  services.streams = actors_->directory;
  services.limiters = actors_->refs->limiters;
  services.promote = [this](replica_open copy) { adopt(std::move(copy)); };
  context_->cluster->set_clustered();
  auto actor = spawn_cluster(*system_, context_, actors_->peers, std::move(services));
  actors_->cluster = actor;
  auto hp = core::parse_host_port(cluster.listen);
  auto published = cluster.insecure
                       ? caf::io::publish(actor, hp->second, hp->first.c_str(), true)
                       : caf::openssl::publish(actor, hp->second, hp->first.c_str(), true);
  if (!published)
    throw std::runtime_error("cannot listen for the cluster on " + cluster.listen + ": " +
                             system_->render(published.error()));
  core::log_info("cluster listening")
      .kv("node", cluster.node)
      .kv("addr", cluster.listen)
      .kv("tls", !cluster.insecure)
      .kv("version", cluster_version())
      .kv("seeds", static_cast<std::int64_t>(cluster.seeds.size()));
  caf::anon_send(actor, tick_atom::value);
}

engine::~engine() {
  stop_actors();
}

void engine::stop_actors() {
  // ~actor_system waits for every actor; connections are closed before we get here.
  context_->stopping = true;
  if (actors_->cluster) caf::anon_send_exit(*actors_->cluster, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors_->refs->registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors_->refs->timers, caf::exit_reason::user_shutdown);
  {  // lingering and client-less streams would wait for timers that no longer run
    std::lock_guard lock(actors_->directory->mu);
    for (const auto& [id, e] : actors_->directory->streams)
      caf::anon_send_exit(e.stream, caf::exit_reason::user_shutdown);
  }
  for (const auto& [id, limiter] : actors_->refs->limiters)
    caf::anon_send_exit(limiter, caf::exit_reason::user_shutdown);
  actors_.reset();
  system_.reset();
}

std::optional<core::error> engine::precheck(const std::string& provider) {
  auto it = actors_->gauges.find(provider);
  if (it == actors_->gauges.end()) return std::nullopt;  // the session reports it
  auto refusal = no_room(*context_, *it->second, context_->config.limits.for_provider(provider));
  if (refusal) it->second->refused++;
  return refusal;
}

namespace {

// Spawns the stream actor around a resumable (v1, background) stream's `hub`, in the
// directory under `id` for `owner`. `unwatched`: it starts with no client
// (actors/stream.hpp). A compat stream has none: its session carries it (start_chat).
stream_actor open_stream(caf::actor_system& system, const std::shared_ptr<engine_context>& context,
                         const engine_actors& actors, std::shared_ptr<stream_hub> hub,
                         const std::string& id, chat_kind kind, std::string owner,
                         bool unwatched = false) {
  stream_options options;
  options.id = id;
  options.linger_s = context->config.streams.linger_s;
  options.orphaned =
      kind == chat_kind::v1 ? stream_options::orphan::grace : stream_options::orphan::keep;
  options.unwatched = unwatched;
  options.on_exit = [dir = actors.directory, id] {
    std::lock_guard lock(dir->mu);
    dir->streams.erase(id);
  };
  auto stream = spawn_stream(system, context, actors.refs->timers, hub, std::move(options));
  std::lock_guard lock(actors.directory->mu);
  actors.directory->streams[id] = {stream, std::move(hub), std::move(owner)};
  return stream;
}

// What replication runs when this node may no longer serve `stream_id`.
std::function<void()> fence_hook(const engine_actors& actors, const std::string& stream_id) {
  return [dir = actors.directory, stream_id] {
    std::optional<stream_directory::entry> entry;
    {
      std::lock_guard lock(dir->mu);
      auto it = dir->streams.find(stream_id);
      if (it == dir->streams.end()) return;
      entry = it->second;
      dir->streams.erase(it);  // resumes here go to the node that has it now
    }
    // Gone at once (nothing lingers: it is served elsewhere), its provider call with it.
    caf::anon_send_exit(entry->stream, caf::exit_reason::user_shutdown);
  };
}

// Copies the stream to its replica (actors/replication.hpp) when clustered, replication
// is on and another node is live; `log` is what the hub carries already.
void replicate(caf::actor_system& system, const std::shared_ptr<engine_context>& context,
               const engine_actors& actors, std::shared_ptr<stream_hub> hub, stream_actor stream,
               replica_open open, std::vector<core::stream_event> log) {
  const auto& view = *context->cluster;
  if (!view.clustered() || !context->config.streams.replicate ||
      replica_choice(view, open.stream_id).empty())
    return;
  auto id = open.stream_id;
  start_replication(system, context, actors.peers, std::move(hub), std::move(stream),
                    std::move(open), std::move(log), fence_hook(actors, id));
}

}  // namespace

attachment engine::start_chat(std::shared_ptr<const core::chat_request> request,
                              rag::repo_source source, std::string request_id,
                              std::shared_ptr<sink_port> port, chat_kind kind, std::string owner,
                              std::string stream_id) {
  if (kind == chat_kind::compat) {
    // No stream actor and no sink: nothing can attach to a compat stream or resume it
    // (no id, nothing kept), so its session carries it: two actors and their messages
    // fewer per request (bench/RESULTS.md). The port is attached before the session
    // exists, so it sees every event.
    auto hub = std::make_shared<stream_hub>(0);
    attachment a;
    a.state_ = std::make_shared<attachment::state>();
    if (port) {
      hub->attach(compat_port_key, std::move(port), 0);
      a.state_->hub = hub;
    }
    auto session = spawn_session(*system_, context_, std::move(request), std::move(source),
                                 std::move(request_id), {}, actors_->refs, {}, std::move(hub));
    a.state_->session = session.address();
    return a;
  }
  if (stream_id.empty()) stream_id = new_stream_id();
  auto hub = std::make_shared<stream_hub>(context_->config.streams.replay_bytes);
  auto stream = open_stream(*system_, context_, *actors_, hub, stream_id, kind, owner);
  {  // in a cluster, copied to its replica before clients see it
    replica_open open;
    open.stream_id = stream_id;
    open.owner = std::move(owner);
    open.background = kind == chat_kind::background;
    open.request_id = request_id;
    open.request = *request;
    replicate(*system_, context_, *actors_, hub, stream, std::move(open), {});
  }
  attachment a;
  if (port) {
    // Attached before the producer exists, so it sees every event.
    auto sink = spawn_sink(*system_, context_, std::move(port), stream, hub);
    a.state_ =
        std::make_shared<attachment::state>(attachment::state{std::move(sink), stream_id, hub, {}});
  } else {
    a.state_ = std::make_shared<attachment::state>(attachment::state{{}, stream_id, {}, {}});
  }
  spawn_session(*system_, context_, std::move(request), std::move(source), std::move(request_id),
                stream_id, actors_->refs, stream, std::move(hub));
  return a;
}

std::string engine::new_stream_id() const {
  return core::new_stream_id(context_->cluster->clustered() ? context_->cluster->self()
                                                            : std::string());
}

namespace {

// Where a stream that is not in this node's directory lives: the node its id names while
// that node is up; else the node that took it over — its replica, the best live node for
// the id (actors/replication.hpp), which may be this node still taking it over (its
// cluster actor then answers) — but for the nodes in `lacking` (the node its id names
// too), asked already: a node that joined while the stream ran may rank above its
// replica. nullopt: nowhere (not clustered, no such node).
std::optional<stream_location> route_of(const engine_actors& actors, const engine_context& context,
                                        const std::string& stream_id,
                                        const std::vector<std::string>& lacking = {}) {
  if (!actors.peers) return std::nullopt;
  auto node = std::string(core::node_of_stream(stream_id));
  if (node.empty()) return std::nullopt;
  const auto& view = *context.cluster;
  auto asked = [&](const std::string& n) {
    return std::find(lacking.begin(), lacking.end(), n) != lacking.end();
  };
  if (node != view.self() && !asked(node))
    if (auto peer = actors.peers->find(node)) return stream_location{node, *peer};
  // Its node was lost, or it is this node's and gone from here (fenced: taken over): the
  // best of the live nodes but that one (the view may not have the loss yet).
  auto live = view.live();
  std::erase_if(live,
                [&](const core::weighted_node& n) { return n.first == node || asked(n.first); });
  auto target = core::rendezvous_owner(stream_id, live);
  if (target.empty()) return std::nullopt;
  auto peer = target == view.self() ? actors.cluster : actors.peers->find(target);
  if (!peer) return std::nullopt;
  return stream_location{target, *peer};
}

// Asks the node at `at` to cancel a stream that is not here; when it does not have it (and
// is not the stream's own node) or its request fails, the next node route_of names, each
// once (as a remote watch looks). `done` hears whether a node had it.
void cancel_at(caf::event_based_actor* self, std::weak_ptr<engine_actors> actors,
               std::shared_ptr<engine_context> context, stream_location at, std::string stream_id,
               std::string owner, std::vector<std::string> lacking,
               std::function<void(bool)> done) {
  auto timeout = std::chrono::milliseconds(context->config.cluster.request_timeout_ms);
  bool home = at.node == core::node_of_stream(stream_id);
  // The next node route_of names but those asked, this one too; none: not found.
  auto ask_next = [=] {
    auto asked = lacking;
    asked.push_back(at.node);
    auto a = actors.lock();
    auto next = a ? route_of(*a, *context, stream_id, asked) : std::nullopt;
    if (!next) return done(false);
    cancel_at(self, actors, context, std::move(*next), stream_id, owner, std::move(asked), done);
  };
  self->request(at.actor, timeout, cancel_atom::value, stream_id, owner)
      .then(
          [=](bool found) {
            if (found || home) return done(found);
            ask_next();
          },
          // A node lost meanwhile (the view may have it still), the stream's own too: the
          // next, as for a "no".
          [=](caf::error&) { ask_next(); });
}

}  // namespace

attachment engine::attach(const std::string& stream_id, const std::string& owner,
                          std::uint64_t after, std::shared_ptr<sink_port> port) {
  auto entry = actors_->directory->find(stream_id, owner);
  if (!entry) {
    auto route = route_of(*actors_, *context_, stream_id);
    if (!route) {
      port->missing();
      return {};
    }
    context_->metrics.remote_watches++;
    auto watch = spawn_remote_watch(
        *system_, context_, std::move(port), std::move(*route),
        remote_attach{stream_id, owner, after},
        [actors = std::weak_ptr<engine_actors>(actors_), context = context_](
            const std::string& id,
            const std::vector<std::string>& lacking) -> std::optional<stream_location> {
          auto a = actors.lock();
          return a ? route_of(*a, *context, id, lacking) : std::nullopt;
        });
    attachment a;
    a.state_ =
        std::make_shared<attachment::state>(attachment::state{std::move(watch), stream_id, {}, {}});
    return a;
  }
  auto sink = spawn_sink(*system_, context_, std::move(port), entry->stream, entry->hub, after);
  attachment a;
  a.state_ = std::make_shared<attachment::state>(
      attachment::state{std::move(sink), stream_id, entry->hub, {}});
  return a;
}

void engine::cancel(const std::string& stream_id, const std::string& owner,
                    std::function<void(bool)> done) {
  if (auto entry = actors_->directory->find(stream_id, owner)) {
    caf::anon_send(entry->stream, cancel_atom::value);
    return done(true);
  }
  auto route = route_of(*actors_, *context_, stream_id);
  if (!route) return done(false);
  system_->spawn([actors = std::weak_ptr<engine_actors>(actors_), context = context_,
                  at = std::move(*route), stream_id, owner,
                  done = std::move(done)](caf::event_based_actor* self) {
    cancel_at(self, actors, context, at, stream_id, owner, {}, done);
  });
}

void engine::adopt(replica_open copy) {
  context_->metrics.takeovers++;
  const auto& streams = context_->config.streams;
  auto resumed = std::make_shared<takeover>(takeover_of(copy.events));
  auto id = copy.stream_id;
  // The events so far, under their own numbers (contiguous from 1: checked on receipt);
  // an end goes through the stream, which lingers on it.
  auto hub = std::make_shared<stream_hub>(streams.replay_bytes);
  std::optional<core::stream_event> end;
  for (const auto& e : copy.events) {
    if (e.terminal()) {
      end = e;
      break;
    }
    hub->publish(e);
  }
  auto stream =
      open_stream(*system_, context_, *actors_, hub, id,
                  copy.background ? chat_kind::background : chat_kind::v1, copy.owner, true);
  core::log_info("stream taken over")
      .kv("stream", id)
      .kv("from", std::string(core::node_of_stream(id)))
      .kv("events", static_cast<std::uint64_t>(copy.events.size()))
      .kv("text_bytes", static_cast<std::uint64_t>(resumed->text.size()))
      .kv("ended", end.has_value());
  if (end) return caf::anon_send(stream, *end);
  auto request = std::make_shared<const core::chat_request>(copy.request);
  auto request_id = copy.request_id;
  auto log = std::move(copy.events);
  replicate(*system_, context_, *actors_, hub, stream, std::move(copy), std::move(log));
  auto source = rag::locate_repo(*request, context_->config);
  if (!source) return caf::anon_send(stream, core::make_error(source.err()));
  spawn_session(*system_, context_, std::move(request), std::move(*source), std::move(request_id),
                id, actors_->refs, stream, std::move(hub), std::move(resumed));
}

std::size_t engine::streams() const {
  std::lock_guard lock(actors_->directory->mu);
  return actors_->directory->streams.size();
}

}  // namespace askd::actors
