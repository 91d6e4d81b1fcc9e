// The call supervisor under CAF's deterministic testing scheduler, one test per row of
// the failure table (issue 4): attempts are scripted by the test (no sockets), and every
// backoff is checked by advancing the scheduler's clock, never by sleeping.
#include <catch2/catch.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include "actors/call_supervisor.hpp"
#include "actors/limiter.hpp"
#include "actors/timer.hpp"
#include "tests/support/recording_port.hpp"

using namespace askd;
using namespace askd::actors;
using std::chrono::milliseconds;

namespace {

// What the supervisor told its listener, and what each attempt was asked.
struct record {
  std::optional<call_summary> finished;
  std::optional<core::error> failed;
  std::vector<std::pair<std::string, providers::generation_request>> attempts;  // provider, request
};

generation_listener_actor::behavior_type listener(generation_listener_actor::pointer self,
                                                  std::shared_ptr<record> rec,
                                                  std::shared_ptr<engine_context> ctx,
                                                  supervised_generation gen,
                                                  std::shared_ptr<call_supervisor_actor> out) {
  gen.holder = caf::actor_cast<caf::actor>(self);
  *out = spawn_call_supervisor(*self, ctx, std::move(gen),
                               caf::actor_cast<generation_listener_actor>(self));
  return {
      [=](finished_atom, call_summary& s) { rec->finished = s; },
      [=](failed_atom, core::error& e) { rec->failed = e; },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<engine_context> ctx = std::make_shared<engine_context>();
  std::shared_ptr<const providers::provider_registry> registry;
  std::shared_ptr<record> rec = std::make_shared<record>();
  std::shared_ptr<test::recording_port> port = std::make_shared<test::recording_port>();
  std::shared_ptr<stream_hub> hub = std::make_shared<stream_hub>();
  std::shared_ptr<generation_output> output = std::make_shared<generation_output>(hub);
  call_supervisor_actor sup;
  caf::actor session;
  never_actor timers;

  fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    core::load_options opts;
    opts.getenv = [](const char*) { return std::string("sk-test"); };
    ctx->config = core::load_config(opts);
    ctx->config.upstream.backoff_ms = 1000;
    ctx->config.upstream.backoff_jitter = 0;  // exact delays: 1 s, 2 s, 4 s
    ctx->config.upstream.max_attempts = 3;
    registry = std::make_shared<providers::provider_registry>(ctx->config);
    ctx->providers = registry;
    timers = spawn_never(*sys);
    hub->attach(1, port, 0);
  }
  ~fixture() {
    if (session) caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(timers, caf::exit_reason::user_shutdown);
    sched->run();
    sys.reset();
  }

  supervised_generation generation(const std::string& provider = "openai") {
    supervised_generation g;
    g.provider = registry->find(provider);
    g.request.messages = {{"system", "sys"}, {"user", "context and question"}};
    g.request.model = "m";
    g.lean = providers::generation_request{{{"system", "sys"}, {"user", "question"}}, "m"};
    g.timers = timers;
    g.output = output;
    g.spawn_attempt = [rec = rec](caf::local_actor&, const auto& p, const auto& req, const auto&,
                                  int, auto) {
      rec->attempts.emplace_back(p->id(), req);
      return caf::actor_addr{};
    };
    return g;
  }

  void start(supervised_generation g) {
    auto out = std::make_shared<call_supervisor_actor>();
    session = caf::actor_cast<caf::actor>(sys->spawn(listener, rec, ctx, std::move(g), out));
    sched->run();
    sup = *out;
  }

  // The attempt in flight reports; the scheduler runs until nothing is left to do now.
  void fail(core::error e) {
    caf::anon_send(sup, failed_atom::value, std::move(e));
    sched->run();
  }
  // The attempt in flight (the supervisor numbers them 1, 2, ...) says `t`.
  void delta(const std::string& t) {
    output->offer(static_cast<int>(rec->attempts.size()), t);
    sched->run();
  }
  std::string text() const { return port->text(); }
  void finish() {
    caf::anon_send(sup, finished_atom::value, call_summary{});
    sched->run();
  }
  // Advances the clock by `d`; returns how many attempts exist afterwards.
  std::size_t after(milliseconds d) {
    sched->advance_time(d);
    sched->run();
    return rec->attempts.size();
  }
};

core::error err(core::error_code code, std::int64_t retry_after_ms = -1) {
  auto e = core::error::make(code, std::string(core::wire_name(code)) + " failure");
  e.retry_after_ms = retry_after_ms;
  return e;
}

}  // namespace

TEST_CASE("backoff doubles from the base and jitter scales it") {
  CHECK(backoff_delay(1, 1000, 1.0) == milliseconds(1000));
  CHECK(backoff_delay(2, 1000, 1.0) == milliseconds(2000));
  CHECK(backoff_delay(3, 1000, 1.0) == milliseconds(4000));
  CHECK(backoff_delay(1, 1000, 0.8) == milliseconds(800));
  CHECK(backoff_delay(3, 1000, 1.2) == milliseconds(4800));
  CHECK(backoff_delay(2, 0, 1.0) == milliseconds(0));
  CHECK(backoff_delay(40, 1, 1.0) == milliseconds(1 << 20));  // capped exponent, no overflow
}

TEST_CASE("timeout and upstream failures are retried 3 times at 1 s then 2 s") {
  for (auto code : {core::error_code::timeout, core::error_code::upstream}) {
    fixture f;
    f.start(f.generation());
    REQUIRE(f.rec->attempts.size() == 1);
    f.fail(err(code));
    CHECK(f.after(milliseconds(999)) == 1);
    CHECK(f.after(milliseconds(1)) == 2);
    f.fail(err(code));
    CHECK(f.after(milliseconds(1999)) == 2);
    CHECK(f.after(milliseconds(1)) == 3);
    f.fail(err(code));  // the third try was the last
    CHECK(f.after(milliseconds(60000)) == 3);
    REQUIRE(f.rec->failed);
    CHECK(f.rec->failed->code == code);
    CHECK(f.rec->failed->message.find("(after 3 attempts)") != std::string::npos);
  }
}

TEST_CASE("a retry that succeeds gives the listener one whole answer") {
  fixture f;
  f.start(f.generation());
  f.fail(err(core::error_code::upstream));
  CHECK(f.after(milliseconds(1000)) == 2);
  f.delta("whole ");
  f.delta("answer");
  f.finish();
  CHECK(f.text() == "whole answer");
  REQUIRE(f.rec->finished);
  CHECK(f.hub->attempts() == 2);
  CHECK(f.rec->finished->degraded.empty());
}

TEST_CASE("rate_limited waits for Retry-After when given - else backs off") {
  fixture f;
  f.start(f.generation());
  f.fail(err(core::error_code::rate_limited, 7000));
  CHECK(f.after(milliseconds(6999)) == 1);
  CHECK(f.after(milliseconds(1)) == 2);
  f.fail(err(core::error_code::rate_limited));  // no Retry-After: the backoff of retry 2
  CHECK(f.after(milliseconds(1999)) == 2);
  CHECK(f.after(milliseconds(1)) == 3);
}

TEST_CASE("a Retry-After longer than max_retry_after_ms is not waited for") {
  fixture f;
  f.ctx->config.upstream.max_retry_after_ms = 5000;
  f.start(f.generation());
  f.fail(err(core::error_code::rate_limited, 6000));
  REQUIRE(f.rec->failed);
  CHECK(f.rec->failed->code == core::error_code::rate_limited);
  CHECK(f.rec->attempts.size() == 1);
}

TEST_CASE("unauthorized and bad_response are never retried") {
  for (auto code : {core::error_code::unauthorized, core::error_code::bad_response}) {
    fixture f;
    f.start(f.generation());
    f.fail(err(code));
    CHECK(f.after(milliseconds(60000)) == 1);
    REQUIRE(f.rec->failed);
    CHECK(f.rec->failed->code == code);
    CHECK(f.rec->failed->message == std::string(core::wire_name(code)) + " failure");
  }
}

TEST_CASE("context_length is retried once at once without the retrieved context") {
  fixture f;
  f.start(f.generation());
  f.fail(err(core::error_code::context_length));
  REQUIRE(f.rec->attempts.size() == 2);  // no backoff
  CHECK(f.rec->attempts[1].second.messages.back().content == "question");
  f.delta("short answer");
  f.finish();
  REQUIRE(f.rec->finished);
  CHECK(f.rec->finished->degraded == std::vector<std::string>{"retrieval"});

  fixture g;  // a second context_length is final
  g.start(g.generation());
  g.fail(err(core::error_code::context_length));
  g.fail(err(core::error_code::context_length));
  REQUIRE(g.rec->failed);
  CHECK(g.rec->failed->code == core::error_code::context_length);
  CHECK(g.rec->attempts.size() == 2);
}

TEST_CASE("no retry is started past the request's deadline") {
  fixture f;
  auto g = f.generation();
  g.deadline = f.sys->clock().now() + milliseconds(1500);
  f.start(std::move(g));
  f.fail(err(core::error_code::upstream));  // retry at 1 s: inside the deadline
  CHECK(f.after(milliseconds(1000)) == 2);
  f.fail(err(core::error_code::upstream));  // retry at 1 s + 2 s: past it
  REQUIRE(f.rec->failed);
  CHECK(f.rec->attempts.size() == 2);
}

TEST_CASE("a failure after text is continued and the repeated start is trimmed") {
  fixture f;
  f.start(f.generation());
  f.delta("Hello there, wor");
  f.fail(err(core::error_code::upstream));
  CHECK(f.after(milliseconds(1000)) == 2);
  const auto& req = f.rec->attempts[1].second;
  REQUIRE(req.messages.size() == 4);
  CHECK(req.messages[2].role == "assistant");
  CHECK(req.messages[2].content == "Hello there, wor");
  CHECK(req.messages[3].content == continue_instruction);
  f.delta("there, w");  // could repeat the partial answer's end
  CHECK(f.text() == "Hello there, wor");  // held back until the overlap is known
  f.delta("orld");  // it repeated 10 bytes: trimmed
  f.delta("!");
  CHECK(f.text() == "Hello there, world!");
  f.finish();
  CHECK(f.text() == "Hello there, world!");
  REQUIRE(f.rec->finished);
  CHECK(f.rec->finished->degraded == std::vector<std::string>{"continued"});
}

TEST_CASE("a continuation that also fails keeps what it said and goes on from there") {
  fixture f;
  f.start(f.generation());
  f.delta("one ");
  f.fail(err(core::error_code::timeout));
  f.after(milliseconds(1000));
  f.delta("two ");
  f.fail(err(core::error_code::upstream));
  CHECK(f.text() == "one two ");
  CHECK(f.after(milliseconds(2000)) == 3);
  CHECK(f.rec->attempts[2].second.messages[2].content == "one two ");
  f.fail(err(core::error_code::upstream));  // out of attempts: the error after the text
  REQUIRE(f.rec->failed);
  CHECK(f.text() == "one two ");
}

TEST_CASE("overlap is found only where the continuation repeats the answer's end") {
  CHECK(continuation_overlap("Hello there, wor", "there, world") == 10);
  CHECK(continuation_overlap("Hello there, wor", "ld") == 0);
  CHECK(continuation_overlap("Hello, wor", "lo, world") == 0);  // 7 bytes: could be chance
  CHECK(continuation_overlap("Hel", "Hello") == 3);             // a restart of a short answer
  CHECK(continuation_overlap("a long answer", "r and") == 0);   // one byte is not enough
  CHECK(continuation_overlap("", "anything") == 0);
}

TEST_CASE("a provider that still fails hands over to the fallback - which answers") {
  fixture f;
  auto g = f.generation("openai");
  g.fallbacks.push_back({f.registry->find("local"), "extractive", {}});
  g.local_answer = {"from local"};
  f.start(std::move(g));
  f.fail(err(core::error_code::unauthorized));  // not retried: handed over at once
  REQUIRE(f.rec->attempts.size() == 2);
  CHECK(f.rec->attempts[1].first == "local");
  f.delta("from local");
  f.finish();
  REQUIRE(f.rec->finished);
  CHECK(f.rec->finished->degraded == std::vector<std::string>{"fallback:local"});
}

TEST_CASE("a fallback takes a slot from its own limiter and gives the first one back") {
  fixture f;
  auto& first_gauges = f.ctx->limiters.emplace_back("provider:openai");
  auto& local_gauges = f.ctx->limiters.emplace_back("provider:local");
  auto first = spawn_limiter(*f.sys, f.ctx, {1, 0}, &first_gauges);
  auto local = spawn_limiter(*f.sys, f.ctx, {1, 0}, &local_gauges);
  auto g = f.generation("openai");
  g.limiter = first;
  g.fallbacks.push_back({f.registry->find("local"), "extractive", local});
  f.start(std::move(g));
  caf::anon_send(first, claim_atom::value, f.session);  // the session's slot, as it would hold
  f.sched->run();
  CHECK(first_gauges.active == 1);
  f.fail(err(core::error_code::upstream));
  f.after(milliseconds(1000));
  f.fail(err(core::error_code::upstream));
  f.after(milliseconds(2000));
  f.fail(err(core::error_code::upstream));
  REQUIRE(f.rec->attempts.size() == 4);
  CHECK(f.rec->attempts[3].first == "local");
  CHECK(first_gauges.active == 0);
  CHECK(local_gauges.active == 1);
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(local, caf::exit_reason::user_shutdown);
}

TEST_CASE("a fallback whose limiter is full is skipped and the first error is reported") {
  fixture f;
  auto& gauges = f.ctx->limiters.emplace_back("provider:local");
  auto local = spawn_limiter(*f.sys, f.ctx, {1, 0}, &gauges);
  auto other = f.sys->spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
  caf::anon_send(local, claim_atom::value, other);  // someone else holds its only slot
  f.sched->run();
  auto g = f.generation("openai");
  g.fallbacks.push_back({f.registry->find("local"), "extractive", local});
  f.start(std::move(g));
  f.fail(err(core::error_code::unauthorized));
  REQUIRE(f.rec->failed);
  CHECK(f.rec->failed->code == core::error_code::unauthorized);
  CHECK(f.rec->attempts.size() == 1);
  CHECK(gauges.refused == 1);
  caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(local, caf::exit_reason::user_shutdown);
}

TEST_CASE("a request cancelled during a backoff starts no further attempt") {
  fixture f;
  f.start(f.generation());
  f.fail(err(core::error_code::upstream));                          // a retry is due in 1 s
  caf::anon_send_exit(f.session, caf::exit_reason::user_shutdown);  // the client left
  f.sched->run();
  CHECK(f.after(milliseconds(10000)) == 1);
  CHECK(f.ctx->census.supervisors == 0);
  CHECK(!f.rec->failed);
  CHECK(!f.rec->finished);
}

TEST_CASE("an attempt that crashes fails the generation - and is not retried") {
  fixture f;
  auto g = f.generation();
  g.spawn_attempt = [rec = f.rec](caf::local_actor& self, const auto& p, const auto& req,
                                  const auto&, int, auto) {
    rec->attempts.emplace_back(p->id(), req);
    return self
        .spawn<caf::linked>([](caf::event_based_actor* a) -> caf::behavior {
          a->quit(caf::make_error(caf::sec::runtime_error));
          return {};
        })
        .address();
  };
  f.start(std::move(g));
  CHECK(f.after(milliseconds(60000)) == 1);
  REQUIRE(f.rec->failed);
  CHECK(f.rec->failed->code == core::error_code::internal);
  CHECK(f.rec->failed->message.find("the provider call crashed: ") == 0);
}
