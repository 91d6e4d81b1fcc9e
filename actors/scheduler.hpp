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
//
// Its workers (`askd.worker`) run CAF's loop without the logger's per-job cast and
// bookkeeping, and sleep when idle on a futex word instead of CAF's condition variable
// (scheduler.cpp). It also runs the engine's timer service (actors/timer.hpp).
#pragma once

#include <caf/actor_clock.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/message_id.hpp>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace caf {
class actor_system;
class actor_system_config;
}  // namespace caf

namespace askd::actors {

// Makes `cfg`'s actor system run on that scheduler (not for the testing scheduler).
void use_quiet_clock(caf::actor_system_config& cfg);

// One thread for every timer of the engine's actors: it sleeps until the earliest entry
// and delivers each due entry's response to its actor. Adding an entry wakes the thread
// only when it is due before the time the thread sleeps until (the first timer after an
// idle spell; a shorter kind of timer than those pending); removing one never does (the
// thread may then wake for nothing, at most once per entry removed before its time).
class timer_service : public std::enable_shared_from_this<timer_service> {
 public:
  using clock = caf::actor_clock::clock_type;

  timer_service();
  ~timer_service();  // stops the thread; entries left are dropped
  // At `when`, `target` gets the response `response` (content `true`: gone off). Returns the
  // entry's id, for cancel().
  std::uint64_t add(clock::time_point when, caf::strong_actor_ptr target, caf::message_id response);
  // False, doing nothing, once it has gone off.
  bool cancel(std::uint64_t id);
  std::size_t pending();  // entries not yet gone off

 private:
  struct entry {
    // Strong, as a CAF request timeout's is: an actor waiting only for its timer (a
    // supervisor between attempts) is held by nobody else and would be terminated as
    // unreachable. Its exit removes the entry (arm_timer), so nothing outlives it.
    caf::strong_actor_ptr target;
    caf::message_id response;
  };
  using schedule = std::multimap<clock::time_point, std::pair<std::uint64_t, entry>>;
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  schedule schedule_;
  std::unordered_map<std::uint64_t, schedule::iterator> by_id_;
  std::uint64_t next_id_ = 0;
  clock::time_point sleeping_until_ = clock::time_point::max();
  bool stopping_ = false;
  std::thread thread_;
};

// The timer service of `system`'s scheduler; nullptr when it is not askd's (the actor
// tests' testing scheduler).
timer_service* timer_service_of(caf::actor_system& system);

}  // namespace askd::actors
