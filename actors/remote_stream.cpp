#include "actors/remote_stream.hpp"

#include "core/ids.hpp"
#include "core/log.hpp"

namespace askd::actors {

std::uint64_t relay_cost(const core::stream_event& e) {
  return e.text.size() + e.data.size() + 32;
}

// ---- the owner's side ------------------------------------------------------------------

void relay_port::deliver(const core::stream_event& event) {
  unacked_ += relay_cost(event);
  caf::anon_send(watcher_, events_atom::value, std::vector<core::stream_event>{event});
}

void relay_port::live() {
  caf::anon_send(watcher_, live_atom::value);
}

void relay_port::closed(const core::stream_event& last) {
  caf::anon_send(watcher_, closed_atom::value, last);
}

void relay_port::lost(std::uint64_t dropped) {
  caf::anon_send(watcher_, lost_atom::value, dropped);
}

void relay_port::moved() {
  caf::anon_send(watcher_, moved_atom::value);
}

void relay_port::pause(std::function<void()> resume) {
  {
    std::lock_guard lock(mutex_);
    resume_ = std::move(resume);
  }
  // Acks that came between the delivery and this pause may have opened the window: the
  // resume must run, but not here, under the hub's lock.
  if (unacked_.load() < relay_window_bytes / 2)
    caf::anon_send(acks_, ack_atom::value, watcher_, std::uint64_t{0});
}

void relay_port::acked(std::uint64_t bytes) {
  std::function<void()> resume;
  {
    std::lock_guard lock(mutex_);
    auto before = unacked_.load();
    unacked_ = bytes > before ? 0 : before - bytes;
    if (resume_ && unacked_.load() < relay_window_bytes / 2) resume.swap(resume_);
  }
  if (resume) resume();
}

// ---- the watcher's side ------------------------------------------------------------------

namespace {

using remote_watch_actor = sink_actor::extend<
    // owner -> watcher: the next events, in order.
    caf::reacts_to<events_atom, std::vector<core::stream_event>>,
    // owner -> watcher: the replay is over; what follows is live.
    caf::reacts_to<live_atom>,
    // owner -> watcher: the stream had ended and the client has seen all of it.
    caf::reacts_to<closed_atom, core::stream_event>,
    // owner -> watcher: the client fell further behind than the stream keeps.
    caf::reacts_to<lost_atom, std::uint64_t>,
    // owner -> watcher: the stream is no longer served there (sink_port::moved).
    caf::reacts_to<moved_atom>,
    // port -> watcher: its connection drained; ack what it wrote.
    caf::reacts_to<resume_atom>,
    // watcher -> itself: look again for the node that serves the stream now.
    caf::reacts_to<tick_atom>>;

using clock = std::chrono::steady_clock;

struct watch_state {
  std::shared_ptr<engine_context> context;
  std::shared_ptr<sink_port> port;
  cluster_actor owner_node;
  std::string asked_node;     // its name, as routed
  remote_attach what;         // after: the last event the port has
  stream_route route;         // where the stream lives now (after a node's loss)
  std::vector<std::string> lacking;  // nodes this search asked that do not have it
  caf::actor_addr lost;       // the node lost under it, while it looks for the next
  clock::time_point give_up;  // ... until then
  bool searching = false;     // looking for where the stream lives (until give_up)
  std::uint64_t unacked = 0;  // bytes given to the port and not yet acknowledged
  bool paused = false;        // waiting for the port's connection to drain
  bool confirmed = false;     // the attach was answered: acks go to the node it named
  bool rerouted = false;      // attached again after a loss
  bool over = false;
  census_count counted;
  static inline const char* name = "remote_watch";
};

using watch_ptr = remote_watch_actor::stateful_pointer<watch_state>;

// Acks go back a quarter window at a time, not per event (half the messages): the owner
// waits only with a whole window unacknowledged, so it never waits on one held back.
void ack(watch_ptr self) {
  auto& st = self->state;
  if (st.unacked < relay_window_bytes / 4 || st.paused || !st.confirmed) return;
  self->send(st.owner_node, ack_atom::value, caf::actor_cast<caf::actor>(self), st.unacked);
  st.unacked = 0;
}

void finish(watch_ptr self) {
  self->state.over = true;
  self->quit();
}

void node_lost(watch_ptr self, const caf::actor_addr& node);
bool ask_next(watch_ptr self);
bool search_again(watch_ptr self);
void end_unfound(watch_ptr self);

// Asks the node in owner_node to attach this watcher after what.after.
void attach(watch_ptr self) {
  auto& st = self->state;
  auto timeout = std::chrono::milliseconds(st.context->config.cluster.request_timeout_ms);
  auto asked = st.owner_node;
  self->request(asked, timeout, attach_atom::value, st.what, caf::actor_cast<caf::actor>(self))
      .then(
          [=](const caf::actor& server) {
            auto& st = self->state;
            if (st.over || st.owner_node.address() != asked.address()) return;
            if (!server) {
              if (ask_next(self) || search_again(self)) return;
              return end_unfound(self);
            }
            // Acks go to the node that serves it (another than asked after a takeover).
            auto serving = caf::actor_cast<cluster_actor>(server);
            if (serving.address() != st.owner_node.address()) {
              self->demonitor(st.owner_node.address());
              st.owner_node = serving;
              self->monitor(st.owner_node);
            }
            st.confirmed = true;
            st.searching = false;
            st.lacking.clear();
            ack(self);
          },
          [=](caf::error& err) {
            auto& st = self->state;
            if (st.over || st.owner_node.address() != asked.address()) return;
            core::log_warn("remote attach failed")
                .kv("stream", st.what.stream_id)
                .kv("error", caf::to_string(err));
            // Its node is gone (the down message may come after this answer): look again.
            // When the down message came first, the search for where the stream lives now
            // is under way (reroute's tick): this answer changes nothing. Ending here, as
            // before, told a client resuming at the owner's death that the stream did not
            // exist while this node was taking it over (cluster tests, under load).
            if (st.route) {
              if (st.lost == asked.address()) return;
              // Its down message, should it come too, would begin a second search.
              self->demonitor(asked.address());
              return node_lost(self, asked.address());
            }
            end_unfound(self);
          });
}

// No node has the stream: the client hears it moved after a loss (its replica was lost
// too), or that there is no such stream; it may resume and hear so again.
void end_unfound(watch_ptr self) {
  auto& st = self->state;
  if (st.rerouted)
    st.port->moved();
  else
    st.port->missing();
  finish(self);
}

// Asks `at` to attach this watcher, after the last event its client has.
void attach_to(watch_ptr self, stream_location at) {
  auto& st = self->state;
  st.owner_node = std::move(at.actor);
  st.asked_node = std::move(at.node);
  st.confirmed = false;
  st.unacked = 0;
  self->monitor(st.owner_node);
  attach(self);
}

// Whether a "no" from the node asked leaves other nodes to ask: there is a route, and the
// node was not the stream's own (which would know).
bool may_search(const watch_state& st) {
  return st.route && st.asked_node != core::node_of_stream(st.what.stream_id);
}

// The node asked, not the stream's own, does not have the stream: a node that joined
// while the stream ran ranks among the candidates after its owner's loss, but the replica
// that took it over was chosen before it came. The next candidate is asked, each once in
// a search. False when there is none (or the stream's own node said so: it would know).
bool ask_next(watch_ptr self) {
  auto& st = self->state;
  if (!may_search(st)) return false;
  st.lacking.push_back(st.asked_node);
  auto next = st.route(st.what.stream_id, st.lacking);
  // Not the node whose loss began this search: it failed this watch already (asked again,
  // a second failure would find the search begun and leave the watch waiting on nothing).
  while (next && next->actor && next->actor.address() == st.lost) {
    st.lacking.push_back(next->node);
    next = st.route(st.what.stream_id, st.lacking);
  }
  if (!next || !next->actor) return false;
  self->demonitor(st.owner_node.address());
  attach_to(self, std::move(*next));
  return true;
}

// Whether this node's view has `node` as a member that is not up: lost (or refused on
// its return), or this node itself (a stream of its own that is not here was taken
// over). False for a node it never knew.
bool seen_lost(const watch_state& st, std::string_view node) {
  for (const auto& m : st.context->cluster->members())
    if (m.name == node) return m.state != core::member_state::up;
  return false;
}

// Every candidate said it does not serve the stream, and its own node was lost: one
// holding a copy from a taker it still sees up (as the search passed it) may take it
// over a moment later, when it sees that loss too. The search begins again on reroute's
// tick until timeout_ms + heartbeat_ms after it began (a search a loss began) or after
// it first ran out. False when it is over, or for a node this one never knew (an id
// made up, or of a node that left before this one started): no one has it.
bool search_again(watch_ptr self) {
  auto& st = self->state;
  if (!may_search(st)) return false;
  if (!st.searching && !seen_lost(st, core::node_of_stream(st.what.stream_id))) return false;
  auto now = clock::now();
  if (!st.searching) {
    st.searching = true;
    st.give_up = now + std::chrono::milliseconds(st.context->config.cluster.timeout_ms +
                                                 st.context->config.cluster.heartbeat_ms);
  }
  if (now >= st.give_up) return false;
  st.lacking.clear();
  // The node that said no serves nothing here: its down message would begin a second
  // search beside this tick's.
  self->demonitor(st.owner_node.address());
  self->delayed_send(self, std::chrono::milliseconds(50), tick_atom::value);
  return true;
}

// The node serving the stream was lost (or a search begins again): the watcher attaches
// again, after the last event its client has, where the stream lives now (its replica
// took it over) — once this node's view has the loss; if none is found in time, the
// client is told so.
void reroute(watch_ptr self) {
  auto& st = self->state;
  if (st.over) return;
  auto next = st.route ? st.route(st.what.stream_id, st.lacking) : std::nullopt;
  if (next && next->actor && next->actor.address() != st.lost)
    return attach_to(self, std::move(*next));
  if (clock::now() >= st.give_up) return end_unfound(self);
  self->delayed_send(self, std::chrono::milliseconds(50), tick_atom::value);
}

// The node serving (or asked for) the stream is lost: look for where it lives now.
void node_lost(watch_ptr self, const caf::actor_addr& node) {
  auto& st = self->state;
  if (st.over) return;
  core::log_warn("stream owner lost")
      .kv("stream", st.what.stream_id)
      .kv("node", std::string(core::node_of_stream(st.what.stream_id)));
  st.lost = node;
  st.rerouted = true;
  st.searching = true;
  st.lacking.clear();  // a new search: who had no copy before may hold one now
  st.give_up = clock::now() + std::chrono::milliseconds(st.context->config.cluster.timeout_ms +
                                                        st.context->config.cluster.heartbeat_ms);
  reroute(self);
}

remote_watch_actor::behavior_type remote_watch(watch_ptr self,
                                               std::shared_ptr<engine_context> context,
                                               std::shared_ptr<sink_port> port,
                                               stream_location first, remote_attach what,
                                               stream_route route) {
  auto& st = self->state;
  st.context = std::move(context);
  st.port = std::move(port);
  st.owner_node = std::move(first.actor);
  st.asked_node = std::move(first.node);
  st.what = std::move(what);
  st.route = std::move(route);
  st.counted.start(st.context, &actor_census::sinks);
  self->monitor(st.owner_node);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.over || msg.source != st.owner_node.address()) return;
    if (!st.route) {
      st.port->moved();
      return finish(self);
    }
    node_lost(self, msg.source);
  });
  attach(self);
  return {
      [=](events_atom, std::vector<core::stream_event>& events) {
        auto& st = self->state;
        if (st.over) return;
        for (const auto& e : events) {
          if (e.seq > 0 && e.seq <= st.what.after) continue;  // had before a reroute
          st.port->deliver(e);
          if (e.seq > 0) st.what.after = e.seq;
          st.unacked += relay_cost(e);
          if (e.terminal()) return finish(self);  // the port has the end
        }
        if (!st.paused && st.port->behind()) {
          st.paused = true;
          st.port->pause(
              [h = caf::actor_cast<caf::actor>(self)] { caf::anon_send(h, resume_atom::value); });
        }
        ack(self);
      },
      [=](live_atom) { self->state.port->live(); },
      [=](closed_atom, core::stream_event& last) {
        self->state.port->closed(last);
        finish(self);
      },
      [=](lost_atom, std::uint64_t dropped) {
        self->state.port->lost(dropped);
        finish(self);
      },
      [=](moved_atom) {
        self->state.port->moved();
        finish(self);
      },
      [=](resume_atom) {
        self->state.paused = false;
        ack(self);
      },
      [=](tick_atom) { reroute(self); },
      [=](finished_atom) { finish(self); },
      [=](gone_atom) {
        auto& st = self->state;
        self->send(st.owner_node, gone_atom::value, caf::actor_cast<caf::actor>(self));
        finish(self);
      },
  };
}

}  // namespace

sink_actor spawn_remote_watch(caf::actor_system& system, std::shared_ptr<engine_context> context,
                              std::shared_ptr<sink_port> port, stream_location first,
                              remote_attach what, stream_route route) {
  return caf::actor_cast<sink_actor>(system.spawn(remote_watch, std::move(context), std::move(port),
                                                  std::move(first), std::move(what),
                                                  std::move(route)));
}

}  // namespace askd::actors
