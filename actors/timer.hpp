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
// entry. A timer is armed in a `timer_slot` of the actor's state: arming the slot again
// cancels the timer it held, and the slot cancels its timer when the state goes (CAF
// destroys it as the actor exits), so nothing holds a finished actor, a re-armed timer
// leaves no entry behind, and no functor is attached to the actor per timer. A timer
// replaced before it went off is answered `false` at once, so CAF drops the response
// handler it kept for it (~110 B, until the actor's end: a stream's detach grace, once
// per time its last client left).
// (Timers used to be requests with a timeout to an actor that never answers: a message,
// and two wakes of CAF's clock thread per timer, set and cancelled, at low load.)
//
// Elsewhere — the testing scheduler of the actor tests, whose clock the tests advance —
// a timer is still such a request, and goes off as the request's timeout.
#pragma once

#include <memory>

#include "actors/messages.hpp"

namespace askd::actors {

class timer_service;

// Where an actor keeps one timer, in its state (above).
class timer_slot {
 public:
  timer_slot() = default;
  timer_slot(const timer_slot&) = delete;
  timer_slot& operator=(const timer_slot&) = delete;
  ~timer_slot() { cancel(); }
  void cancel();  // harmless when it went off, or was never armed

 private:
  friend void arm_timer(caf::scheduled_actor* self, timer_slot& slot, caf::timespan delay,
                        caf::behavior on_due);
  std::shared_ptr<timer_service> service_;
  std::uint64_t id_ = 0;
  caf::message_id response_;  // what the actor waits for
};

// The one actor timers ask off the engine's scheduler; it never answers. Hidden: the
// system does not wait for it.
never_actor spawn_never(caf::actor_system& system);

// The engine's timer service when `system` runs on askd's scheduler, else false.
bool has_timer_service(caf::actor_system& system);
// Arms a timer of the service in `slot` (cancelling the one it held, whose `on_due` gets
// `false` at once): `on_due` gets `true` in `self`'s context after `delay`.
void arm_timer(caf::scheduled_actor* self, timer_slot& slot, caf::timespan delay,
               caf::behavior on_due);

// Calls `due()` in `self`'s context after `delay`, unless `self` is gone by then or `slot`
// (in self's state) is armed again first.
template <class Self, class F>
void start_timer(Self* self, timer_slot& slot, const never_actor& never, caf::timespan delay,
                 F due) {
  if (has_timer_service(self->home_system()))
    return arm_timer(self, slot, delay, caf::behavior{[due](bool fired) mutable {
                       if (fired) due();
                     }});
  self->request(never, delay, wait_atom::value)
      .then([](bool) {},
            [due](caf::error& err) mutable {
              if (err == caf::sec::request_timeout) due();
            });
}

}  // namespace askd::actors
