#include "actors/timer.hpp"

#include "actors/scheduler.hpp"

namespace askd::actors {

never_actor spawn_never(caf::actor_system& system) {
  return system.spawn<caf::hidden>([](never_actor::pointer self) -> never_actor::behavior_type {
    return {
        // The promise is dropped unanswered: the asker's timeout is the timer.
        [=](wait_atom) -> caf::result<bool> { return self->make_response_promise<bool>(); },
    };
  });
}

bool has_timer_service(caf::actor_system& system) {
  return timer_service_of(system) != nullptr;
}

void timer_slot::cancel() {
  if (auto service = std::move(service_)) service->cancel(id_);
}

void arm_timer(caf::scheduled_actor* self, timer_slot& slot, caf::timespan delay,
               caf::behavior on_due) {
  // The timer replaced, if it had not gone off, is answered `false` now: CAF keeps a
  // response handler until its response comes (or the actor ends), ~110 B each time a
  // stream's detach grace was armed again.
  if (auto old = std::move(slot.service_); old && old->cancel(slot.id_))
    self->enqueue(caf::make_mailbox_element(nullptr, slot.response_, {}, false), self->context());
  auto service = timer_service_of(self->home_system())->shared_from_this();
  // The response to a request that was never sent: the service delivers it when due.
  auto response = self->new_request_id(caf::message_priority::normal).response_id();
  self->add_multiplexed_response_handler(response, std::move(on_due));
  slot.id_ = service->add(self->clock().now() + delay, self->ctrl(), response);
  slot.response_ = response;
  slot.service_ = std::move(service);
}

}  // namespace askd::actors
