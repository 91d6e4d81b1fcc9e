#include "actors/timer.hpp"

namespace askd::actors {

never_actor spawn_never(caf::actor_system& system) {
  return system.spawn<caf::hidden>([](never_actor::pointer self) -> never_actor::behavior_type {
    return {
        // The promise is dropped unanswered: the asker's timeout is the timer.
        [=](wait_atom) -> caf::result<bool> { return self->make_response_promise<bool>(); },
    };
  });
}

}  // namespace askd::actors
