#include "actors/stream.hpp"

#include <algorithm>
#include <deque>

#include "actors/timer.hpp"

namespace askd::actors {
namespace {

struct stream_state {
  std::shared_ptr<engine_context> context;
  never_actor timers;
  stream_options options;
  std::vector<sink_actor> sinks;
  caf::actor producer;
  std::uint64_t seq = 0;
  std::deque<caf::message> kept;  // the last events, each a stream_event, for resuming
  std::size_t kept_bytes = 0;
  std::uint64_t first_kept = 1;  // the sequence number of kept.front()
  std::uint64_t orphaned = 0;    // bumped whenever the sink count changes: stale timers see it
  bool ended = false;
  std::shared_ptr<bool> lingering;  // ended and kept for resuming: counted as lingering

  static inline const char* name = "stream";
};

using self_ptr = stream_actor::stateful_pointer<stream_state>;

std::size_t cost(const core::stream_event& e) {
  return sizeof(core::stream_event) + e.text.size() + e.data.size() + 64;
}

void keep(self_ptr self, const caf::message& msg) {
  auto& st = self->state;
  st.kept.push_back(msg);
  st.kept_bytes += cost(msg.get_as<core::stream_event>(0));
  while (st.kept.size() > 1 && st.kept_bytes > st.context->config.streams.replay_bytes) {
    st.kept_bytes -= cost(st.kept.front().get_as<core::stream_event>(0));
    st.kept.pop_front();
    ++st.first_kept;
  }
}

void end(self_ptr self) {
  auto& st = self->state;
  st.ended = true;
  if (st.options.linger_s <= 0) return self->quit();
  // From here it is a lingering stream, not one in flight.
  st.context->census.streams--;
  st.context->census.lingering++;
  *st.lingering = true;
  start_timer(self, st.timers, std::chrono::seconds(st.options.linger_s), [=] { self->quit(); });
}

void publish(self_ptr self, core::stream_event event) {
  auto& st = self->state;
  if (st.ended) return;
  event.seq = ++st.seq;
  bool terminal = event.terminal();
  // One message, shared by every sink's mailbox element and the replay buffer
  // (copy-on-write): the text is not copied per sink.
  auto msg = caf::make_message(std::move(event));
  for (const auto& s : st.sinks)
    caf::actor_cast<caf::abstract_actor*>(s)->enqueue(self->ctrl(), caf::make_message_id(), msg,
                                                      self->context());
  if (!st.options.id.empty()) keep(self, msg);  // resumable: v1 and background streams
  if (terminal) end(self);
}

void cancel(self_ptr self, std::string_view why) {
  auto& st = self->state;
  if (st.ended) return;
  if (st.producer) self->send_exit(st.producer, caf::exit_reason::user_shutdown);
  core::done_info done;
  done.finish_reason = std::string(why);
  publish(self, core::make_done(done));
}

// The last sink left before the end.
void orphaned(self_ptr self) {
  auto& st = self->state;
  using orphan = stream_options::orphan;
  if (st.ended || !st.sinks.empty() || st.options.orphaned == orphan::keep) return;
  if (st.options.orphaned == orphan::cancel) {
    // Nobody can come back for a compat stream: stop at once, and keep nothing.
    if (st.producer) self->send_exit(st.producer, caf::exit_reason::user_shutdown);
    st.ended = true;
    return self->quit();
  }
  auto token = st.orphaned;
  start_timer(self, st.timers, std::chrono::seconds(st.context->config.streams.detach_grace_s),
              [=] {
                if (self->state.orphaned == token) cancel(self, "abandoned");
              });
}

void remove_sink(self_ptr self, const caf::actor_addr& sink) {
  auto& v = self->state.sinks;
  auto before = v.size();
  v.erase(
      std::remove_if(v.begin(), v.end(), [&](const sink_actor& s) { return s.address() == sink; }),
      v.end());
  if (v.size() == before) return;
  ++self->state.orphaned;
  if (v.empty()) orphaned(self);
}

stream_actor::behavior_type stream(self_ptr self, std::shared_ptr<engine_context> context,
                                   never_actor timers, stream_options options) {
  auto& st = self->state;
  context->census.streams++;
  // Shared with the exit functor, which runs after the state is gone.
  st.lingering = std::make_shared<bool>(false);
  self->attach_functor([context, on_exit = options.on_exit, lingering = st.lingering] {
    (*lingering ? context->census.lingering : context->census.streams)--;
    if (on_exit) on_exit();
  });
  st.context = std::move(context);
  st.timers = std::move(timers);
  st.options = std::move(options);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source == st.producer.address()) {
      // The producer is gone without a terminal event: a bug; tell the clients.
      if (!st.ended)
        publish(self, core::make_error(core::error::make(core::error_code::internal,
                                                         "the answer stopped unexpectedly")));
      return;
    }
    remove_sink(self, msg.source);  // a sink died without detaching: treat it as gone
  });
  return {
      [=](producer_atom, caf::actor producer) {
        // Cancelled before its producer registered (a DELETE right after the 201): stop it.
        if (self->state.ended) return self->send_exit(producer, caf::exit_reason::user_shutdown);
        self->monitor(producer);
        self->state.producer = std::move(producer);
      },
      [=](core::stream_event& event) { publish(self, std::move(event)); },
      [=](attach_atom, sink_actor sink, std::uint64_t after) {
        auto& st = self->state;
        auto refuse = [&](std::string why) {
          self->send(sink, core::make_error(
                               core::error::make(core::error_code::bad_request, std::move(why))));
        };
        if (after > st.seq)
          return refuse("event " + std::to_string(after) + " has not happened yet (the last is " +
                        std::to_string(st.seq) + ")");
        if (after + 1 < st.first_kept && st.seq >= st.first_kept)
          // The events it lacks were dropped to keep the buffer bounded.
          return refuse("events up to " + std::to_string(st.first_kept - 1) +
                        " are no longer kept (streams.replay_bytes); resume from there or later");
        bool sent = false;
        for (const auto& msg : st.kept) {
          const auto& e = msg.get_as<core::stream_event>(0);
          if (e.seq <= after) continue;
          caf::actor_cast<caf::abstract_actor*>(sink)->enqueue(self->ctrl(), caf::make_message_id(),
                                                               msg, self->context());
          sent = true;
        }
        if (st.ended) {
          // Nothing new: it has seen the end already; it gets that end again to close on.
          if (!sent && !st.kept.empty())
            self->send(sink, finished_atom::value, st.kept.back().get_as<core::stream_event>(0));
          return;
        }
        self->send(sink, live_atom::value);
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
                          never_actor timers, stream_options options) {
  return system.spawn(stream, std::move(context), std::move(timers), std::move(options));
}

}  // namespace askd::actors
