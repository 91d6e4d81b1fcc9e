// actors/timer.hpp — timers that die with their actor.
//
// CAF 0.17 keeps a delayed_send's receiver, and so the whole actor's memory (about
// 1.3 KB measured), until the message is due, however long ago the actor finished: with
// a 10-minute request deadline and 60-second idle checks that is gigabytes at a few
// thousand requests a second. A request's timeout, on the other hand, is cancelled when
// the requesting actor dies. So a timer here is a request to an actor that never
// answers, and it goes off as that request's timeout.
#pragma once

#include "actors/messages.hpp"

namespace askd::actors {

// The one actor timers ask; it never answers. Hidden: the system does not wait for it.
never_actor spawn_never(caf::actor_system& system);

// Calls `due()` in `self`'s context after `delay`, unless `self` is gone by then.
template <class Self, class F>
void start_timer(Self* self, const never_actor& never, caf::timespan delay, F due) {
  self->request(never, delay, wait_atom::value)
      .then([](bool) {},
            [due](caf::error& err) mutable {
              if (err == caf::sec::request_timeout) due();
            });
}

}  // namespace askd::actors
