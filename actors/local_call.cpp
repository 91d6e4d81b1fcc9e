#include "actors/local_call.hpp"

namespace askd::actors {
namespace {

struct local_call_state {
  std::vector<std::string> pieces;
  std::size_t next = 0;
  std::size_t bytes = 0;
  std::shared_ptr<generation_output> output;
  int attempt = 0;
  generation_listener_actor listener;
  census_count counted;
  static inline const char* name = "local_call";
};

using self_ptr = local_call_actor::stateful_pointer<local_call_state>;

local_call_actor::behavior_type local_call(self_ptr self, std::shared_ptr<engine_context> context,
                                           std::vector<std::string> pieces,
                                           std::shared_ptr<generation_output> output, int attempt,
                                           generation_listener_actor listener) {
  auto& st = self->state;
  st.counted.start(std::move(context), &actor_census::provider_calls);
  st.pieces = std::move(pieces);
  st.output = std::move(output);
  st.attempt = attempt;
  st.listener = std::move(listener);
  self->send(self, next_atom::value);
  return {
      [=](next_atom) {
        auto& st = self->state;
        if (st.next < st.pieces.size()) {
          const auto& piece = st.pieces[st.next++];
          st.bytes += piece.size();
          st.output->offer(st.attempt, piece);
          self->send(self, next_atom::value);
          return;
        }
        call_summary done;
        done.finish_reason = "stop";
        done.usage.completion_tokens = static_cast<std::int64_t>(st.bytes / 4);
        self->send(st.listener, finished_atom::value, done);
        self->quit();
      },
  };
}

}  // namespace

local_call_actor spawn_local_call(caf::local_actor& parent, std::shared_ptr<engine_context> context,
                                  std::vector<std::string> pieces,
                                  std::shared_ptr<generation_output> output, int attempt,
                                  generation_listener_actor listener) {
  return parent.spawn<caf::linked>(local_call, std::move(context), std::move(pieces),
                                   std::move(output), attempt, std::move(listener));
}

}  // namespace askd::actors
