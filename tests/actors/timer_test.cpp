// actors/timer.hpp on askd's own scheduler (the other actor tests run on CAF's testing
// one, where a timer is a request's timeout): a timer lives in a slot of its actor's
// state, so arming the slot again replaces its timer and the actor's end removes it.
#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "actors/scheduler.hpp"
#include "actors/timer.hpp"

namespace {

using namespace std::chrono_literals;
using arm_atom = caf::atom_constant<caf::atom("arm")>;

struct timer_state {
  askd::actors::timer_slot slot;
  askd::actors::never_actor never;
  int fired = 0;
};

// Arms its slot `times` times with `delay` on each `arm`, and answers how often a timer
// of its went off so far.
caf::behavior armer(caf::stateful_actor<timer_state>* self, askd::actors::never_actor never) {
  self->state.never = std::move(never);
  return {
      [=](arm_atom, int times, int delay_ms) {
        for (int i = 0; i < times; ++i)
          askd::actors::start_timer(self, self->state.slot, self->state.never,
                                    std::chrono::milliseconds(delay_ms),
                                    [=] { ++self->state.fired; });
        return self->state.fired;
      },
  };
}

struct askd_system {
  askd_system() : sys(make_config(cfg)) {}
  static caf::actor_system_config& make_config(caf::actor_system_config& cfg) {
    askd::actors::use_quiet_clock(cfg);
    cfg.set("scheduler.max-threads", 1);
    return cfg;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
};

// Waits (bounded) for `ok()`: the service and the actor's exit run on other threads.
template <class F>
bool eventually(F ok) {
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(1ms))
    if (ok()) return true;
  return ok();
}

}  // namespace

TEST_CASE("a timer slot armed again holds one timer - the actor's end removes it") {
  askd_system s;
  auto* service = askd::actors::timer_service_of(s.sys);
  REQUIRE(service != nullptr);
  auto a = s.sys.spawn(armer, askd::actors::spawn_never(s.sys));
  caf::scoped_actor self{s.sys};
  int fired = -1;
  // A provider call's idle check is armed again every idle_timeout_ms of a long answer.
  self->request(a, caf::infinite, arm_atom::value, 100, 3600 * 1000)
      .receive([&](int n) { fired = n; }, [&](caf::error&) {});
  CHECK(fired == 0);
  CHECK(service->pending() == 1);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  CHECK(eventually([&] { return service->pending() == 0; }));
}

TEST_CASE("a timer armed over another goes off - the one it replaced does not") {
  askd_system s;
  auto* service = askd::actors::timer_service_of(s.sys);
  auto a = s.sys.spawn(armer, askd::actors::spawn_never(s.sys));
  caf::scoped_actor self{s.sys};
  auto fired = [&] {
    int n = -1;
    self->request(a, caf::infinite, arm_atom::value, 0, 0)
        .receive([&](int got) { n = got; }, [&](caf::error&) {});
    return n;
  };
  // An hour's timer, replaced by a 1 ms one: one goes off, and nothing is left pending.
  self->request(a, caf::infinite, arm_atom::value, 1, 3600 * 1000)
      .receive([](int) {}, [](caf::error&) {});
  self->request(a, caf::infinite, arm_atom::value, 1, 1).receive([](int) {}, [](caf::error&) {});
  CHECK(eventually([&] { return fired() == 1; }));
  CHECK(service->pending() == 0);
  self->send_exit(a, caf::exit_reason::user_shutdown);
}

namespace {

using handlers_atom = caf::atom_constant<caf::atom("handlers")>;

// armer's work as a class, to see what CAF keeps for it: the response handlers waiting
// (protected in CAF). Not a twin to fold armer into: its slot is a member, gone only with
// the actor object, which a pending timer's entry keeps alive, where the engine's actors
// (and armer) keep theirs in state, destroyed as they exit. The test using it ends with
// no timer pending.
class counting_armer : public caf::event_based_actor {
 public:
  counting_armer(caf::actor_config& cfg, askd::actors::never_actor never)
      : caf::event_based_actor(cfg), never_(std::move(never)) {}

  caf::behavior make_behavior() override {
    return {
        [this](arm_atom, int times, int delay_ms) {
          for (int i = 0; i < times; ++i)
            askd::actors::start_timer(this, slot_, never_, std::chrono::milliseconds(delay_ms),
                                      [this] { ++fired_; });
          return fired_;
        },
        [this](handlers_atom) { return static_cast<int>(multiplexed_responses_.size()); },
    };
  }

 private:
  askd::actors::timer_slot slot_;
  askd::actors::never_actor never_;
  int fired_ = 0;
};

}  // namespace

TEST_CASE("a timer replaced before it goes off leaves no response handler - and never goes off") {
  askd_system s;
  auto a = s.sys.spawn<counting_armer>(askd::actors::spawn_never(s.sys));
  caf::scoped_actor self{s.sys};
  auto ask = [&](auto... xs) {
    int n = -1;
    self->request(a, caf::infinite, xs...).receive([&](int got) { n = got; }, [&](caf::error&) {});
    return n;
  };
  // A v1 stream's detach grace, armed again each time its last client leaves: 100 times
  // an hour's timer. The replaced ones are answered `false` before the next message, so
  // one handler is left (100 before), and none of them went off.
  CHECK(ask(arm_atom::value, 100, 3600 * 1000) == 0);
  CHECK(ask(handlers_atom::value) == 1);
  CHECK(ask(arm_atom::value, 0, 0) == 0);
  // The last one still goes off when replaced by a due one.
  CHECK(ask(arm_atom::value, 1, 1) == 0);
  CHECK(eventually([&] { return ask(arm_atom::value, 0, 0) == 1; }));
  CHECK(ask(handlers_atom::value) == 0);
  self->send_exit(a, caf::exit_reason::user_shutdown);
}
