#include "actors/stream.hpp"

#include <algorithm>

#include "actors/timer.hpp"

namespace askd::actors {
namespace {

struct stream_state {
  std::shared_ptr<engine_context> context;
  never_actor timers;
  stream_options options;
  std::shared_ptr<stream_hub> hub;
  std::vector<sink_actor> sinks;
  caf::actor producer;
  std::uint64_t orphaned = 0;  // bumped whenever the sink count changes: stale timers see it
  bool ended = false;
  census_count counted;  // a stream, then (ended and kept for resuming) a lingering one
  timer_slot timer;      // the detach grace while in flight, then the linger

  static inline const char* name = "stream";
};

using self_ptr = stream_actor::stateful_pointer<stream_state>;

// The hub has had its terminal event: the sinks quit; the stream lingers or quits.
void end(self_ptr self) {
  auto& st = self->state;
  if (st.ended) return;
  st.ended = true;
  for (const auto& s : st.sinks) {
    self->demonitor(s.address());
    self->send(s, finished_atom::value);
  }
  st.sinks.clear();
  if (st.options.linger_s <= 0) return self->quit();
  // From here it is a lingering stream, not one in flight.
  st.counted.move_to(&actor_census::lingering);
  start_timer(self, st.timer, st.timers, std::chrono::seconds(st.options.linger_s),
              [=] { self->quit(); });
}

void publish(self_ptr self, core::stream_event event) {
  bool terminal = event.terminal();
  if (self->state.hub->publish(std::move(event)) && terminal) end(self);
}

void cancel(self_ptr self, std::string_view why) {
  auto& st = self->state;
  if (st.ended) return;
  if (st.producer) self->send_exit(st.producer, caf::exit_reason::user_shutdown);
  core::done_info done;
  done.finish_reason = std::string(why);
  publish(self, core::make_done(done));
  end(self);  // had a producer ended it first, the hub took no second end
}

// The last sink left before the end.
void orphaned(self_ptr self) {
  auto& st = self->state;
  using orphan = stream_options::orphan;
  if (st.ended || !st.sinks.empty() || st.options.orphaned == orphan::keep) return;
  auto token = st.orphaned;
  start_timer(self, st.timer, st.timers,
              std::chrono::seconds(st.context->config.streams.detach_grace_s), [=] {
                if (self->state.orphaned == token) cancel(self, "abandoned");
              });
}

void remove_sink(self_ptr self, const caf::actor_addr& sink) {
  auto& st = self->state;
  st.hub->detach(sink.id());
  auto before = st.sinks.size();
  std::erase_if(st.sinks, [&](const sink_actor& s) { return s.address() == sink; });
  if (st.sinks.size() == before) return;
  ++st.orphaned;
  if (st.sinks.empty()) orphaned(self);
}

stream_actor::behavior_type stream(self_ptr self, std::shared_ptr<engine_context> context,
                                   never_actor timers, std::shared_ptr<stream_hub> hub,
                                   stream_options options) {
  auto& st = self->state;
  st.counted.start(context, &actor_census::streams);
  if (options.on_exit) self->attach_functor(options.on_exit);
  st.context = std::move(context);
  st.timers = std::move(timers);
  st.hub = std::move(hub);
  st.options = std::move(options);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source == st.producer.address()) {
      // The producer published its terminal event to the hub and quit; gone without
      // one is a bug: tell the clients.
      if (!st.hub->ended())
        st.hub->publish(core::make_error(
            core::error::make(core::error_code::internal, "the answer stopped unexpectedly")));
      return end(self);
    }
    remove_sink(self, msg.source);  // a sink died without detaching: treat it as gone
  });
  if (st.options.unwatched) orphaned(self);
  return {
      [=](producer_atom, caf::actor producer) {
        // Cancelled before its producer registered (a DELETE right after the 201): stop it.
        if (self->state.ended) return self->send_exit(producer, caf::exit_reason::user_shutdown);
        self->monitor(producer);
        self->state.producer = std::move(producer);
      },
      [=](core::stream_event& event) { publish(self, std::move(event)); },
      [=](attach_atom, sink_actor sink) {
        auto& st = self->state;
        // Ended since the hub attached it: its port has had the last event.
        if (st.ended) return self->send(sink, finished_atom::value);
        self->monitor(sink);
        st.sinks.push_back(std::move(sink));
        ++st.orphaned;
      },
      [=](detach_atom, sink_actor sink) {
        self->demonitor(sink.address());
        remove_sink(self, sink.address());
      },
      [=](cancel_atom) { cancel(self, "cancelled"); },
  };
}

}  // namespace

stream_actor spawn_stream(caf::actor_system& system, std::shared_ptr<engine_context> context,
                          never_actor timers, std::shared_ptr<stream_hub> hub,
                          stream_options options) {
  return system.spawn(stream, std::move(context), std::move(timers), std::move(hub),
                      std::move(options));
}

}  // namespace askd::actors
