#include "actors/stream.hpp"

#include <algorithm>

namespace askd::actors {
namespace {

struct stream_state {
  std::vector<sink_actor> sinks;
  caf::actor producer;
  std::uint64_t seq = 0;
  bool ended = false;

  static inline const char* name = "stream";
};

using self_ptr = stream_actor::stateful_pointer<stream_state>;

void publish(self_ptr self, core::stream_event event) {
  auto& st = self->state;
  if (st.ended) return;
  event.seq = ++st.seq;
  st.ended = event.terminal();
  // One message, shared by every sink's mailbox element (copy-on-write): the text is
  // not copied per sink.
  auto msg = caf::make_message(std::move(event));
  for (const auto& s : st.sinks)
    caf::actor_cast<caf::abstract_actor*>(s)->enqueue(self->ctrl(), caf::make_message_id(), msg,
                                                      self->context());
  if (st.ended) self->quit();
}

void cancel(self_ptr self) {
  auto& st = self->state;
  if (st.producer) self->send_exit(st.producer, caf::exit_reason::user_shutdown);
  st.ended = true;
  self->quit();
}

stream_actor::behavior_type stream(self_ptr self, std::shared_ptr<engine_context> context) {
  context->census.streams++;
  self->attach_functor([context] { context->census.streams--; });
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source == st.producer.address()) {
      // The producer is gone without a terminal event: a bug; tell the clients.
      if (!st.ended)
        publish(self, core::make_error(core::error::make(core::error_code::internal,
                                                         "the answer stopped unexpectedly")));
      return;
    }
    // A sink died without detaching: treat it as gone.
    auto& v = st.sinks;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const sink_actor& s) { return s.address() == msg.source; }),
            v.end());
    if (v.empty() && !st.ended) cancel(self);
  });
  return {
      [=](producer_atom, caf::actor producer) {
        self->monitor(producer);
        self->state.producer = std::move(producer);
      },
      [=](core::stream_event& event) { publish(self, std::move(event)); },
      [=](attach_atom, sink_actor sink) {
        self->monitor(sink);
        self->state.sinks.push_back(std::move(sink));
      },
      [=](detach_atom, sink_actor sink) {
        auto& st = self->state;
        self->demonitor(sink.address());
        auto& v = st.sinks;
        v.erase(std::remove(v.begin(), v.end(), sink), v.end());
        if (v.empty() && !st.ended) cancel(self);
      },
  };
}

}  // namespace

stream_actor spawn_stream(caf::actor_system& system, std::shared_ptr<engine_context> context) {
  return system.spawn(stream, std::move(context));
}

}  // namespace askd::actors
