// askd's scheduler (actors/scheduler.cpp) puts an idle worker to sleep on a futex word and
// wakes it from the thread that enqueues work for it (the io thread spawning a session,
// the curl thread sending an upstream's end). A wakeup lost in the race between a worker
// going to sleep and a job arriving would leave the job until the worker woke on its own;
// here not for 30 s, so a lost wakeup is a request that times out (after 5 s).
#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "actors/scheduler.hpp"

namespace {

using namespace std::chrono_literals;

struct sleepy_system {
  sleepy_system() : sys(make_config(cfg)) {}
  static caf::actor_system_config& make_config(caf::actor_system_config& cfg) {
    askd::actors::use_quiet_clock(cfg);
    cfg.set("scheduler.max-threads", std::size_t{1});
    // Straight to sleep when its queue is empty, so most jobs find it asleep or on its way
    // there; and no waking on its own (to steal) while the test runs, so only an enqueue's
    // wake gets it going.
    cfg.set("work-stealing.aggressive-poll-attempts", std::size_t{1});
    cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
    cfg.set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::seconds(30)});
    return cfg;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
};

caf::behavior adder() {
  return {[](int x) { return x + 1; }};
}

// Up to `rounds` requests one after another from this thread: how many were answered
// rightly, each within 5 s, before the first that was not. A request's timeout stays
// pending after its answer (CAF 0.17) and, when it goes off, waits in the requester's
// mailbox for every later receive to skip: a fresh requester every 1,000 requests ends
// them, so a slow machine does not make the loop quadratic.
int round_trips(caf::actor_system& sys, const caf::actor& target, int rounds) {
  int answered = 0;
  while (answered < rounds) {
    caf::scoped_actor self{sys};
    auto block_end = std::min(rounds, answered + 1000);
    for (int i = answered; i < block_end && answered == i; ++i)
      self->request(target, std::chrono::seconds(5), i)
          .receive([&](int r) { answered += r == i + 1; }, [&](caf::error&) {});
    if (answered < block_end) break;
  }
  return answered;
}

}  // namespace

TEST_CASE("a sleeping worker is woken by work sent from another thread - none is lost") {
  sleepy_system s;
  auto a = s.sys.spawn(adder);
  // Each request wakes the worker, which sleeps again as soon as it has answered.
  CHECK(round_trips(s.sys, a, 20000) == 20000);
}

TEST_CASE("a sleeping worker is woken when several threads send it work at once") {
  sleepy_system s;
  std::vector<caf::actor> targets;
  for (int i = 0; i < 3; ++i) targets.push_back(s.sys.spawn(adder));
  std::atomic<int> answered{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t)
    senders.emplace_back(
        [&, t] { answered += round_trips(s.sys, targets[static_cast<std::size_t>(t)], 5000); });
  for (auto& th : senders) th.join();
  CHECK(answered == 15000);
}
