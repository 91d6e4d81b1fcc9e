#include "actors/sink.hpp"

namespace askd::actors {
namespace {

struct sink_state {
  std::shared_ptr<stream_hub> hub;
  stream_actor stream;

  census_count counted;
  static inline const char* name = "sink";
};

using self_ptr = sink_actor::stateful_pointer<sink_state>;

sink_actor::behavior_type sink(self_ptr self, std::shared_ptr<engine_context> context,
                               std::shared_ptr<stream_hub> hub, stream_actor stream) {
  auto& st = self->state;
  st.hub = std::move(hub);
  st.stream = std::move(stream);
  st.counted.start(std::move(context), &actor_census::sinks);
  self->monitor(st.stream);
  self->set_down_handler([=](caf::down_msg&) {
    // The stream actor is gone. Had the stream not ended (it should not happen), its
    // clients hear so; through the hub, which drops it after a terminal event.
    self->state.hub->publish(core::make_error(
        core::error::make(core::error_code::internal, "the stream ended unexpectedly")));
    self->quit();
  });
  return {
      [=](finished_atom) { self->quit(); },
      [=](gone_atom) {
        self->send(self->state.stream, detach_atom::value, caf::actor_cast<sink_actor>(self));
        self->quit();
      },
  };
}

}  // namespace

sink_actor spawn_sink(caf::actor_system& system, std::shared_ptr<engine_context> context,
                      std::shared_ptr<sink_port> port, stream_actor stream,
                      std::shared_ptr<stream_hub> hub, std::uint64_t after) {
  auto s = system.spawn(sink, std::move(context), hub, stream);
  // The port is attached here, on the caller's thread, before anything can publish from
  // it: a new chat's sink sees every event, and a resume's replay is written at once.
  if (hub->attach(s.id(), std::move(port), after) == stream_hub::attached::live)
    caf::anon_send(stream, attach_atom::value, s);
  else
    caf::anon_send(s, finished_atom::value);  // refused, or it had seen the end already
  return s;
}

}  // namespace askd::actors
