// actors/timer.hpp — timers that die with their actor.
//
// CAF 0.17 keeps a delayed_send's receiver, and so the whole actor's memory (about
// 1.3 KB measured), until the message is due, however long ago the actor finished: with
// a 10-minute request deadline and 60-second idle checks that is gigabytes at a few
// thousand requests a second. A request's timeout, on the other hand, is cancelled when
// the requesting actor dies.
//
// On the engine's scheduler (actors/scheduler.hpp) a timer is an entry in the engine's
// one timer service: a thread that sleeps until the earliest entry and, when one is due,
// delivers a response the actor is waiting for, so `due()` runs in the actor's context.
// Arming one sends no message and wakes no thread unless it is due before every other
// entry; the actor's exit removes its entries, so nothing holds a finished actor.
// (Timers used to be requests with a timeout to an actor that never answers: a message,
// and two wakes of CAF's clock thread per timer, set and cancelled, at low load.)
//
// Elsewhere — the testing scheduler of the actor tests, whose clock the tests advance —
// a timer is still such a request, and goes off as the request's timeout.
#pragma once

#include "actors/messages.hpp"

namespace askd::actors {

// The one actor timers ask off the engine's scheduler; it never answers. Hidden: the
// system does not wait for it.
never_actor spawn_never(caf::actor_system& system);

// The engine's timer service when `system` runs on askd's scheduler, else false.
bool has_timer_service(caf::actor_system& system);
// Arms a timer of the service: `on_due` gets `true` in `self`'s context after `delay`.
void arm_timer(caf::scheduled_actor* self, caf::timespan delay, caf::behavior on_due);

// Calls `due()` in `self`'s context after `delay`, unless `self` is gone by then.
template <class Self, class F>
void start_timer(Self* self, const never_actor& never, caf::timespan delay, F due) {
  if (has_timer_service(self->home_system()))
    return arm_timer(self, delay, caf::behavior{[due](bool) mutable { due(); }});
  self->request(never, delay, wait_atom::value)
      .then([](bool) {},
            [due](caf::error& err) mutable {
              if (err == caf::sec::request_timeout) due();
            });
}

}  // namespace askd::actors
