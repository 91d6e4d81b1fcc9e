// actors/children.hpp — how an actor hears the linked children it spawns end (session or
// research → round → call supervisor → provider call; a plain question's session runs
// its round itself). A child that ends
// normally has already said how in its last message. One that dies otherwise while it is
// the child in flight is a failure the actor reports itself (`crashed`, given the reason
// as text). Any other exit — the parent, or the server, going away — takes the actor
// down with the same reason, after `leaving` (e.g. a log line), and with it its children.
#pragma once

#include <caf/all.hpp>

#include <string>
#include <utility>

#include "core/error.hpp"

namespace askd::actors {

// The generation in flight (a provider call, a call supervisor, a local call) crashed:
// the error its parent fails with, `why` being the exit reason as text.
inline core::error call_crashed(const std::string& why) {
  return core::error::make(core::error_code::internal, "the provider call crashed: " + why);
}

template <class Self, class InFlight, class Crashed, class Leaving>
void on_child_exit(Self self, InFlight in_flight, Crashed crashed, Leaving leaving) {
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal) return;
    if (in_flight(msg.source)) return crashed(to_string(msg.reason));
    leaving();
    self->quit(std::move(msg.reason));
  });
}

template <class Self, class InFlight, class Crashed>
void on_child_exit(Self self, InFlight in_flight, Crashed crashed) {
  on_child_exit(self, std::move(in_flight), std::move(crashed), [] {});
}

}  // namespace askd::actors
