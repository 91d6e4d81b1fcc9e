// actors/scheduler.hpp — the CAF scheduler askd's engine runs on: CAF's work stealing,
// with a clock that hears only about the actors that set a timeout.
//
// CAF 0.17 cleans up every terminating actor with `clock().cancel_timeouts(this)`, and
// its thread-safe clock hands each call to its own thread through a ring buffer that
// wakes that thread whenever it was idle. A compat stream ends six actors, most of which
// never set a timeout: at low load that was a futex wake and a context switch of the
// clock thread per actor, mostly for nothing to cancel (bench/RESULTS.md, relay
// benchmark). This clock remembers which actors
// set a timeout and passes only their cancellation on.
#pragma once

namespace caf {
class actor_system_config;
}

namespace askd::actors {

// Makes `cfg`'s actor system run on that scheduler (not for the testing scheduler).
void use_quiet_clock(caf::actor_system_config& cfg);

}  // namespace askd::actors
