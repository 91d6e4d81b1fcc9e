#include "actors/sink.hpp"

namespace askd::actors {
namespace {

struct sink_state {
  std::shared_ptr<sink_port> port;
  stream_actor stream;
  std::uint64_t last_seq = 0;  // the last event passed on (or the `after` it started from)

  static inline const char* name = "sink";
};

using self_ptr = sink_actor::stateful_pointer<sink_state>;

sink_actor::behavior_type sink(self_ptr self, std::shared_ptr<engine_context> context,
                               std::shared_ptr<sink_port> port, stream_actor stream,
                               std::uint64_t after) {
  auto& st = self->state;
  st.last_seq = after;
  st.port = std::move(port);
  st.stream = std::move(stream);
  context->census.sinks++;
  self->attach_functor([context] { context->census.sinks--; });
  self->monitor(st.stream);
  self->set_down_handler([=](caf::down_msg&) {
    // The stream is gone without a terminal event for us (it should not happen).
    auto& st = self->state;
    st.port->deliver(core::make_error(
        core::error::make(core::error_code::internal, "the stream ended unexpectedly")));
    self->quit();
  });
  return {
      [=](core::stream_event& event) {
        auto& st = self->state;
        bool last = event.terminal();
        // Events it already has (up to `after`) are skipped; a refusal to resume has seq 0.
        if (event.seq != 0 && event.seq <= st.last_seq) {
          if (last) self->quit();
          return;
        }
        st.last_seq = event.seq;
        st.port->deliver(event);
        if (last) self->quit();
      },
      [=](live_atom) { self->state.port->live(); },
      [=](finished_atom, core::stream_event& last) {
        self->state.port->closed(last);
        self->quit();
      },
      [=](gone_atom) {
        self->send(self->state.stream, detach_atom::value, caf::actor_cast<sink_actor>(self));
        self->quit();
      },
  };
}

}  // namespace

sink_actor spawn_sink(caf::actor_system& system, std::shared_ptr<engine_context> context,
                      std::shared_ptr<sink_port> port, stream_actor stream, std::uint64_t after) {
  return system.spawn(sink, std::move(context), std::move(port), std::move(stream), after);
}

}  // namespace askd::actors
