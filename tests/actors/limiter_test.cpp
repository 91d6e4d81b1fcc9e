// The limiter under CAF's deterministic testing scheduler: places, slots in FIFO order,
// fast refusals with Retry-After, and slots coming back when a holder dies; both through
// the actor's messages and through the fast path holders use (actors/limiter.hpp), whose
// messages the tests count (each event the scheduler runs is one message, or an actor's
// start).
#include <catch2/catch.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include "actors/limiter.hpp"

using namespace askd;
using namespace askd::actors;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<engine_context> ctx = std::make_shared<engine_context>();
  limiter_gauges* gauges = nullptr;
  limiter_actor limiter;
  std::vector<caf::actor> holders;

  explicit fixture(core::provider_limit limit) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    ctx->config.limits.retry_after_s = 2;
    gauges = &ctx->limiters.emplace_back("provider:test");
    limiter = spawn_limiter(*sys, ctx, limit, gauges);
    sched->run();  // its start
  }
  ~fixture() {
    for (auto& h : holders) caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(limiter, caf::exit_reason::user_shutdown);
    sched->run();
    sys.reset();
  }

  // A holder that asks the limiter `what` and writes the answer to `*out` when it comes.
  template <class Atom>
  caf::actor ask(Atom what, std::shared_ptr<std::optional<admission>> out) {
    auto l = limiter;
    auto h = sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->request(l, caf::infinite, what, caf::actor_cast<caf::actor>(self))
          .then([=](admission& a) { *out = a; });
      return {[](int) {}};
    });
    holders.push_back(h);
    sched->run();
    return h;
  }
  std::shared_ptr<std::optional<admission>> answer() {
    return std::make_shared<std::optional<admission>>();
  }

  // A holder that takes its place (reserve_atom) or slot (claim_atom) as sessions and
  // rounds do, writing the answer to `*out` when it comes. Returns it once it has started
  // and asked; nothing else has run (messages sent before are still on their way).
  template <class Atom>
  caf::actor take(Atom what, std::shared_ptr<std::optional<admission>> out, limiter_actor at = {}) {
    auto l = at ? at : limiter;
    auto c = ctx;
    auto h = sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
      // A crash as any: the actor ends with an error (without CAF's report on stderr).
      self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
        return caf::sec::runtime_error;
      });
      admit(self, c, l, what, caf::actor_cast<caf::actor>(self), [=](admission& a) { *out = a; });
      // 1: it crashes (the handler throws); 0: it quits, giving nothing back itself.
      return {[=](int crash) {
        if (crash) throw std::runtime_error("the holder crashed");
        self->quit();
      }};
    });
    holders.push_back(h);
    sched->prioritize(h);
    sched->run_once();  // its start
    return h;
  }

  // Holders claiming in turn: the first gets the slot (with no message), the next wait in
  // that order once the limiter has read their claims.
  std::vector<caf::actor> line_up(
      std::initializer_list<std::shared_ptr<std::optional<admission>>> answers) {
    std::vector<caf::actor> in_line;
    for (const auto& a : answers) in_line.push_back(take(claim_atom::value, a));
    sched->run();
    return in_line;
  }
};

bool admitted(const std::shared_ptr<std::optional<admission>>& a) {
  return *a && !(*a)->refusal;
}
bool refused(const std::shared_ptr<std::optional<admission>>& a) {
  return *a && (*a)->refusal;
}

}  // namespace

TEST_CASE("a limiter grants slots up to its limit - queues the next - refuses past the queue") {
  fixture f({2, 1});
  auto a = f.answer(), b = f.answer(), c = f.answer(), d = f.answer();
  f.ask(claim_atom::value, a);
  f.ask(claim_atom::value, b);
  CHECK((*a && !(*a)->refusal));
  CHECK((*b && !(*b)->refusal));
  f.ask(claim_atom::value, c);
  CHECK(!*c);  // waiting for a slot
  CHECK(f.gauges->active == 2);
  CHECK(f.gauges->queued == 1);
  CHECK(f.ctx->queued_requests == 1);
  f.ask(claim_atom::value, d);  // no place left: refused at once
  REQUIRE(*d);
  REQUIRE((*d)->refusal);
  CHECK((*d)->refusal->code == core::error_code::overloaded);
  CHECK((*d)->refusal->retry_after_ms == 2000);
  CHECK((*d)->refusal->message.find("provider:test is at its limit (2 at once, 1 queued)") == 0);
  CHECK(f.gauges->refused == 1);
}

TEST_CASE("a holder that dies gives its slot to the next in line") {
  fixture f({1, 2});
  auto a = f.answer(), b = f.answer(), c = f.answer();
  auto first = f.ask(claim_atom::value, a);
  f.ask(claim_atom::value, b);
  f.ask(claim_atom::value, c);
  CHECK(!*b);
  CHECK(!*c);
  caf::anon_send_exit(first, caf::exit_reason::kill);  // crashed, not released
  f.sched->run();
  CHECK(*b);  // first come, first served
  CHECK(!*c);
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 1);
}

TEST_CASE("a place reserved early counts against the queue - and release frees it") {
  fixture f({1, 1});
  auto a = f.answer(), b = f.answer(), c = f.answer();
  auto first = f.ask(reserve_atom::value, a);
  f.ask(reserve_atom::value, b);
  f.ask(reserve_atom::value, c);
  CHECK((*a && !(*a)->refusal));
  CHECK((*b && !(*b)->refusal));
  REQUIRE(*c);
  CHECK((*c)->refusal);
  CHECK(f.gauges->queued == 2);
  caf::anon_send(f.limiter, release_atom::value, first);
  f.sched->run();
  CHECK(f.gauges->queued == 1);
  CHECK(f.ctx->queued_requests == 1);
}

TEST_CASE("the server-wide queue limit refuses a newcomer however much room a provider has") {
  fixture f({1, 100});
  f.ctx->config.limits.max_queued_requests = 1;
  auto a = f.answer(), b = f.answer();
  f.ask(reserve_atom::value, a);
  f.ask(reserve_atom::value, b);
  REQUIRE(*b);
  REQUIRE((*b)->refusal);
  CHECK((*b)->refusal->message.find("limits.max_queued_requests") != std::string::npos);
}

TEST_CASE("a holder that yields its slot keeps its place - the slot goes to the next in line") {
  fixture f({1, 1});
  auto a = f.answer(), b = f.answer(), c = f.answer();
  auto first = f.ask(claim_atom::value, a);
  f.ask(claim_atom::value, b);
  CHECK(!*b);
  caf::anon_send(f.limiter, yield_atom::value, first);  // a research between its rounds
  f.sched->run();
  CHECK(*b);
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 1);  // the first still holds its place
  f.ask(claim_atom::value, c);   // so a newcomer finds none
  REQUIRE(*c);
  CHECK((*c)->refusal);
  caf::anon_send(f.limiter, yield_atom::value, first);  // yielding without a slot: nothing
  f.sched->run();
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 1);
}

TEST_CASE("a place and a slot are taken and given back without a message when nobody waits") {
  fixture f({2, 1});
  auto a = f.answer();
  auto holder = f.take(reserve_atom::value, a);
  CHECK(admitted(a));  // answered in the holder's start
  CHECK(f.sched->run() == 0);
  CHECK(f.gauges->queued == 1);
  CHECK(f.ctx->queued_requests == 1);
  CHECK(admitted_here(f.ctx, f.limiter, claim_atom::value, holder));  // as its round does
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 0);
  give_back(f.ctx, f.limiter, yield_atom::value, holder);  // as its supervisor does
  CHECK(f.gauges->active == 0);
  CHECK(f.gauges->queued == 1);
  give_back(f.ctx, f.limiter, release_atom::value, holder);  // as the session does
  CHECK(f.gauges->queued == 0);
  CHECK(f.ctx->queued_requests == 0);
  CHECK(f.sched->run() == 0);  // the limiter heard nothing of it
  auto b = f.answer();
  f.take(claim_atom::value, b);  // a slot without a place first: a place comes with it
  CHECK(admitted(b));
  CHECK(f.gauges->active == 1);
  CHECK(f.sched->run() == 0);
}

TEST_CASE("a claim that waits keeps its turn - a later claim does not take the slot first") {
  fixture f({1, 3});
  auto a = f.answer(), b = f.answer(), c = f.answer();
  auto first = f.take(claim_atom::value, a);
  CHECK(admitted(a));
  auto second = f.take(claim_atom::value, b);  // in the queue now; its claim is on its way
  CHECK(!*b);
  // The slot comes back before the limiter has read the second's claim: it is the
  // second's, and a newcomer waits behind it.
  give_back(f.ctx, f.limiter, yield_atom::value, first);
  f.take(claim_atom::value, c);
  CHECK(!*c);
  f.sched->run();
  CHECK(admitted(b));
  CHECK(!*c);
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 2);  // the first keeps its place; the third waits
  give_back(f.ctx, f.limiter, release_atom::value, second);
  f.sched->run();
  CHECK(admitted(c));
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 1);
}

TEST_CASE(
    "a waiter that leaves - released or killed - is skipped - the slot goes to the one "
    "after it") {
  fixture f({1, 3});
  auto a = f.answer(), b = f.answer(), c = f.answer();
  auto in_line = f.line_up({a, b, c});
  auto first = in_line[0], second = in_line[1];
  CHECK(f.gauges->queued == 2);
  SECTION("released (its session's deadline, while its round waits)") {
    give_back(f.ctx, f.limiter, release_atom::value, second);
  }
  SECTION("killed") {
    caf::anon_send_exit(second, caf::exit_reason::kill);
    f.sched->run();
  }
  CHECK(f.gauges->queued == 1);
  give_back(f.ctx, f.limiter, release_atom::value, first);
  f.sched->run();
  CHECK(!*b);
  CHECK(admitted(c));
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 0);
}

TEST_CASE(
    "a holder that ends without giving back - killed - crashed or quitting - frees its slot "
    "to the next in line") {
  fixture f({1, 2});
  auto a = f.answer(), b = f.answer(), c = f.answer();
  auto first = f.line_up({a, b, c})[0];  // a place and a slot, taken with no message
  CHECK(admitted(a));
  CHECK(!*b);
  SECTION("killed (a cancel, the server stopping)") {
    caf::anon_send_exit(first, caf::exit_reason::kill);
  }
  SECTION("crashed") {
    caf::anon_send(first, 1);  // its handler throws
  }
  SECTION("quitting") {
    caf::anon_send(first, 0);
  }
  f.sched->run();
  CHECK(admitted(b));  // first come, first served
  CHECK(!*c);
  CHECK(f.gauges->active == 1);
  CHECK(f.gauges->queued == 1);
  CHECK(f.ctx->queued_requests == 1);
}

TEST_CASE(
    "a larger share of the cluster's slots goes to the waiters in order - a smaller one "
    "waits for the active to go below it") {
  fixture f({1, 3});
  auto a = f.answer(), b = f.answer(), c = f.answer(), d = f.answer();
  auto first = f.line_up({a, b, c})[0];
  CHECK((!*b && !*c));
  caf::anon_send(f.limiter, capacity_atom::value, std::int64_t{2});
  f.sched->run();
  CHECK(admitted(b));
  CHECK(!*c);
  CHECK(f.gauges->capacity == 2);
  caf::anon_send(f.limiter, capacity_atom::value, std::int64_t{1});
  f.sched->run();
  give_back(f.ctx, f.limiter, yield_atom::value, first);  // 1 active now: still not below 1
  f.sched->run();
  CHECK(!*c);
  CHECK(f.gauges->active == 1);
  caf::anon_send(f.limiter, capacity_atom::value, std::int64_t{3});
  f.sched->run();
  CHECK(admitted(c));
  f.take(claim_atom::value, d);  // a free slot and nobody waiting: at once
  CHECK(admitted(d));
}

TEST_CASE("a share of 0 slots refuses a newcomer - through the limiter - which counts it") {
  fixture f({2, 2});
  caf::anon_send(f.limiter, capacity_atom::value, std::int64_t{0});
  f.sched->run();
  auto a = f.answer();
  f.take(reserve_atom::value, a);
  CHECK(!*a);  // not decided here: the limiter refuses
  f.sched->run();
  REQUIRE(refused(a));
  CHECK((*a)->refusal->message.find("has no slot on this node") != std::string::npos);
  CHECK(f.gauges->refused == 1);
}

TEST_CASE("a full queue and the server-wide queue limit still refuse on the fast path") {
  SECTION("the provider's queue") {
    fixture f({1, 1});
    auto a = f.answer(), b = f.answer(), c = f.answer();
    f.take(reserve_atom::value, a);
    f.take(reserve_atom::value, b);
    CHECK((admitted(a) && admitted(b)));
    f.take(reserve_atom::value, c);
    f.sched->run();
    REQUIRE(refused(c));
    CHECK((*c)->refusal->code == core::error_code::overloaded);
    CHECK((*c)->refusal->retry_after_ms == 2000);
    CHECK((*c)->refusal->message.find("provider:test is at its limit (1 at once, 1 queued)") == 0);
    CHECK(f.gauges->refused == 1);
    CHECK(f.gauges->queued == 2);
  }
  SECTION("askd's queue, across providers") {
    fixture f({1, 100});
    f.ctx->config.limits.max_queued_requests = 1;
    auto& other_gauges = f.ctx->limiters.emplace_back("provider:other");
    auto other = spawn_limiter(*f.sys, f.ctx, {1, 100}, &other_gauges);
    auto a = f.answer(), b = f.answer();
    f.take(reserve_atom::value, a);
    CHECK(admitted(a));
    f.take(reserve_atom::value, b, other);
    f.sched->run();
    REQUIRE(refused(b));
    CHECK((*b)->refusal->message.find("limits.max_queued_requests") != std::string::npos);
    CHECK(other_gauges.refused == 1);
    CHECK(f.ctx->queued_requests == 1);
    caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
  }
}
