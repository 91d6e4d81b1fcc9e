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
    // port -> watcher: its connection drained; ack what it wrote.
    caf::reacts_to<resume_atom>>;

struct watch_state {
  std::shared_ptr<engine_context> context;
  std::shared_ptr<sink_port> port;
  cluster_actor owner_node;
  std::string stream_id;
  std::uint64_t unacked = 0;  // bytes given to the port and not yet acknowledged
  bool paused = false;        // waiting for the port's connection to drain
  bool over = false;
  static inline const char* name = "remote_watch";
};

using watch_ptr = remote_watch_actor::stateful_pointer<watch_state>;

// Acks go back a quarter window at a time, not per event (half the messages): the owner
// waits only with a whole window unacknowledged, so it never waits on one held back.
void ack(watch_ptr self) {
  auto& st = self->state;
  if (st.unacked < relay_window_bytes / 4 || st.paused) return;
  self->send(st.owner_node, ack_atom::value, caf::actor_cast<caf::actor>(self), st.unacked);
  st.unacked = 0;
}

void finish(watch_ptr self) {
  self->state.over = true;
  self->quit();
}

remote_watch_actor::behavior_type remote_watch(watch_ptr self,
                                               std::shared_ptr<engine_context> context,
                                               std::shared_ptr<sink_port> port,
                                               cluster_actor owner_node, remote_attach what) {
  auto& st = self->state;
  st.context = std::move(context);
  st.port = std::move(port);
  st.owner_node = std::move(owner_node);
  st.stream_id = what.stream_id;
  st.context->census.sinks++;
  self->attach_functor([ctx = st.context] { ctx->census.sinks--; });
  self->monitor(st.owner_node);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.over) return;
    auto node = std::string(core::node_of_stream(st.stream_id));
    core::log_warn("stream owner lost")
        .kv("stream", st.stream_id)
        .kv("node", node)
        .kv("reason", caf::to_string(msg.reason));
    auto err = core::error::make(core::error_code::upstream,
                                 "the node serving this stream (" + node + ") was lost");
    st.port->deliver(core::make_error(err));
    finish(self);
  });
  auto timeout = std::chrono::milliseconds(st.context->config.cluster.request_timeout_ms);
  self->request(st.owner_node, timeout, attach_atom::value, what, caf::actor_cast<caf::actor>(self))
      .then(
          [=](bool found) {
            if (found || self->state.over) return;
            self->state.port->missing();
            finish(self);
          },
          [=](caf::error& err) {
            if (self->state.over) return;
            core::log_warn("remote attach failed")
                .kv("stream", self->state.stream_id)
                .kv("error", caf::to_string(err));
            self->state.port->missing();
            finish(self);
          });
  return {
      [=](events_atom, std::vector<core::stream_event>& events) {
        auto& st = self->state;
        if (st.over) return;
        for (const auto& e : events) {
          st.port->deliver(e);
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
      [=](resume_atom) {
        self->state.paused = false;
        ack(self);
      },
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
                              std::shared_ptr<sink_port> port, cluster_actor owner_node,
                              remote_attach what) {
  return caf::actor_cast<sink_actor>(system.spawn(remote_watch, std::move(context), std::move(port),
                                                  std::move(owner_node), std::move(what)));
}

}  // namespace askd::actors
