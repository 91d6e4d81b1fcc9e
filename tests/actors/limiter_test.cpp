// The limiter actor under CAF's deterministic testing scheduler: places, slots in FIFO
// order, fast refusals with Retry-After, and slots coming back when a holder dies.
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
};

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
