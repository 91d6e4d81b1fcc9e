// The stream actor under CAF's deterministic testing scheduler: numbering, fan-out to
// every sink in order, and cancellation when the last sink leaves.
#include <catch2/catch.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include <map>

#include "actors/messages.hpp"
#include "actors/sink.hpp"
#include "actors/stream.hpp"
#include "actors/timer.hpp"
#include "tests/support/recording_port.hpp"

using namespace askd;
using namespace askd::actors;
using askd::test::recording_port;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<engine_context> ctx = std::make_shared<engine_context>();
  never_actor timers;
  std::vector<caf::actor> spawned;  // stopped at the end: lingering streams, idle producers
  std::shared_ptr<bool> test_running = std::make_shared<bool>(true);

  fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    timers = spawn_never(*sys);
  }
  ~fixture() {
    *test_running = false;
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(timers, caf::exit_reason::user_shutdown);
    sched->run();
    sys.reset();
  }
  void run() { sched->run(); }

  std::map<caf::actor_id, std::shared_ptr<stream_hub>> hubs;  // each stream's

  // As the engine makes them: only a stream with an id keeps its events for resuming.
  stream_actor stream(stream_options o = {}) {
    auto hub = std::make_shared<stream_hub>(o.id.empty() ? 0 : ctx->config.streams.replay_bytes);
    auto s = spawn_stream(*sys, ctx, timers, hub, std::move(o));
    hubs[s.id()] = hub;
    spawned.push_back(caf::actor_cast<caf::actor>(s));
    return s;
  }
  // A v1 stream: kept `linger_s` after its end, cancelled `grace` after its last sink left.
  stream_actor v1_stream(stream_options::orphan orphaned = stream_options::orphan::grace) {
    stream_options o;
    o.id = "s";
    o.linger_s = 60;
    o.orphaned = orphaned;
    return stream(std::move(o));
  }
  sink_actor attach(const stream_actor& s, std::shared_ptr<recording_port> port,
                    std::uint64_t after = 0) {
    return spawn_sink(*sys, ctx, std::move(port), s, hubs.at(s.id()), after);
  }

  // A producer that does nothing but notice when it is killed.
  caf::actor producer(bool& killed) {
    auto p = sys->spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
    // The test's flag is gone by the time the fixture stops what is left.
    caf::actor_cast<caf::abstract_actor*>(p)->attach_functor([&killed, live = test_running] {
      if (*live) killed = true;
    });
    spawned.push_back(p);
    return p;
  }
};

}  // namespace

TEST_CASE("a stream numbers events and fans each out to every sink - in order") {
  fixture f;
  auto stream = f.stream();
  auto a = std::make_shared<recording_port>();
  auto b = std::make_shared<recording_port>();
  f.attach(stream, a);
  f.attach(stream, b);
  bool killed = false;
  auto producer = f.producer(killed);
  caf::anon_send(stream, producer_atom::value, producer);
  caf::anon_send(stream, core::make_delta("Hello"));
  caf::anon_send(stream, core::make_delta(", world"));
  core::done_info done;
  caf::anon_send(stream, core::make_done(done));
  f.run();
  for (const auto* port : {a.get(), b.get()}) {
    REQUIRE(port->got.size() == 3);
    CHECK(port->got[0].seq == 1);
    CHECK(port->got[0].text == "Hello");
    CHECK(port->got[1].seq == 2);
    CHECK(port->got[1].text == ", world");
    CHECK(port->got[2].seq == 3);
    CHECK(port->got[2].type == core::event_type::done);
  }
  // The stream and both sinks end with the terminal event; the producer ends itself.
  CHECK(f.ctx->census.streams == 0);
  CHECK(f.ctx->census.sinks == 0);
  CHECK_FALSE(killed);
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
}

TEST_CASE("one sink leaving does not stop the stream; the last one leaving cancels it") {
  fixture f;
  f.ctx->config.streams.detach_grace_s = 30;
  auto stream = f.v1_stream();
  auto a = std::make_shared<recording_port>();
  auto b = std::make_shared<recording_port>();
  auto sink_a = f.attach(stream, a);
  auto sink_b = f.attach(stream, b);
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("one"));
  f.run();
  caf::anon_send(sink_a, gone_atom::value);
  f.run();
  caf::anon_send(stream, core::make_delta("two"));
  f.run();
  CHECK(a->got.size() == 1);
  REQUIRE(b->got.size() == 2);
  CHECK(b->got[1].text == "two");
  CHECK_FALSE(killed);
  CHECK(f.ctx->census.streams == 1);

  caf::anon_send(sink_b, gone_atom::value);
  f.run();
  CHECK(f.ctx->census.sinks == 0);
  f.sched->advance_time(std::chrono::seconds(30));
  f.run();
  CHECK(killed);
  CHECK(f.ctx->census.streams == 0);
}

TEST_CASE("a producer that dies without a terminal event ends the stream with an error") {
  fixture f;
  auto stream = f.stream();
  auto a = std::make_shared<recording_port>();
  f.attach(stream, a);
  bool killed = false;
  auto producer = f.producer(killed);
  caf::anon_send(stream, producer_atom::value, producer);
  caf::anon_send(stream, core::make_delta("partial"));
  f.run();
  caf::anon_send_exit(producer, caf::exit_reason::kill);
  f.run();
  REQUIRE(a->got.size() == 2);
  CHECK(a->got[1].type == core::event_type::error);
  CHECK(a->got[1].seq == 2);
  CHECK(f.ctx->census.total() == 0);
}

TEST_CASE("a sink attaching later gets what it missed - then the rest live") {
  fixture f;
  auto stream = f.v1_stream();
  auto first = std::make_shared<recording_port>();
  f.attach(stream, first);
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("one "));
  caf::anon_send(stream, core::make_delta("two "));
  f.run();
  auto late = std::make_shared<recording_port>();
  f.attach(stream, late, 1);  // it saw event 1 on an earlier connection
  f.run();
  caf::anon_send(stream, core::make_delta("three"));
  caf::anon_send(stream, core::make_done({}));
  f.run();
  CHECK(first->text() == "one two three");
  CHECK(late->text() == "two three");
  REQUIRE(late->got.size() == 3);
  CHECK(late->got.front().seq == 2);
  CHECK(late->got.back().type == core::event_type::done);
  CHECK(f.ctx->census.lingering == 1);
  CHECK(f.ctx->census.streams == 0);  // not in flight any more
}

TEST_CASE("a finished stream lingers for resuming - then goes") {
  fixture f;
  auto stream = f.v1_stream();
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("whole answer"));
  caf::anon_send(stream, core::make_done({}));
  f.run();  // nobody attached: a background-like stream still keeps its events
  auto late = std::make_shared<recording_port>();
  f.attach(stream, late, 0);
  f.run();
  CHECK(late->text() == "whole answer");
  auto seen_all = std::make_shared<recording_port>();
  f.attach(stream, seen_all, 2);  // it has the done event already
  f.run();
  CHECK(seen_all->got.empty());
  CHECK(seen_all->closes == 1);
  f.sched->advance_time(std::chrono::seconds(59));
  f.run();
  CHECK(f.ctx->census.lingering == 1);
  f.sched->advance_time(std::chrono::seconds(1));
  f.run();
  CHECK(f.ctx->census.lingering == 0);
  CHECK(f.ctx->census.streams == 0);
}

TEST_CASE("a v1 stream left by its last client is cancelled after the grace unless one returns") {
  fixture f;
  f.ctx->config.streams.detach_grace_s = 30;
  auto stream = f.v1_stream();
  auto a = std::make_shared<recording_port>();
  auto sink = f.attach(stream, a);
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("x"));
  f.run();
  caf::anon_send(sink, gone_atom::value);
  f.run();
  f.sched->advance_time(std::chrono::seconds(20));
  f.run();
  CHECK_FALSE(killed);
  auto back = std::make_shared<recording_port>();
  auto sink2 = f.attach(stream, back, 1);  // came back in time
  f.run();
  f.sched->advance_time(std::chrono::seconds(20));
  f.run();
  CHECK_FALSE(killed);  // the first grace timer saw the return
  caf::anon_send(sink2, gone_atom::value);
  f.run();
  f.sched->advance_time(std::chrono::seconds(30));
  f.run();
  CHECK(killed);
}

TEST_CASE("cancel ends a stream with done cancelled and stops its producer") {
  fixture f;
  auto stream = f.v1_stream(stream_options::orphan::keep);
  auto a = std::make_shared<recording_port>();
  f.attach(stream, a);
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("part"));
  caf::anon_send(stream, cancel_atom::value);
  f.run();
  CHECK(killed);
  REQUIRE(a->got.size() == 2);
  CHECK(a->got[1].type == core::event_type::done);
  CHECK(a->got[1].data.find("\"finish_reason\":\"cancelled\"") != std::string::npos);
}

TEST_CASE("the replay buffer is bounded - a resume from before it is refused") {
  fixture f;
  f.ctx->config.streams.replay_bytes = 4096;
  auto stream = f.v1_stream(stream_options::orphan::keep);
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  for (int i = 0; i < 100; ++i) caf::anon_send(stream, core::make_delta(std::string(100, 'x')));
  f.run();
  auto old = std::make_shared<recording_port>();
  f.attach(stream, old, 0);
  f.run();
  REQUIRE(old->got.size() == 1);
  CHECK(old->got[0].type == core::event_type::error);
  CHECK(old->got[0].text.find("no longer kept") != std::string::npos);
  auto recent = std::make_shared<recording_port>();
  f.attach(stream, recent, 99);
  f.run();
  REQUIRE(recent->got.size() == 1);
  CHECK(recent->got[0].seq == 100);
  caf::anon_send(stream, cancel_atom::value);
}

TEST_CASE("a stream cancelled before its producer registers stops the producer when it does") {
  fixture f;
  auto stream = f.v1_stream(stream_options::orphan::keep);
  caf::anon_send(stream, cancel_atom::value);
  f.run();
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  f.run();
  CHECK(killed);
}

TEST_CASE("a resume from an event that has not happened is refused - not left waiting") {
  fixture f;
  auto stream = f.v1_stream(stream_options::orphan::keep);
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("one"));
  f.run();
  auto ahead = std::make_shared<recording_port>();
  f.attach(stream, ahead, 5);
  f.run();
  REQUIRE(ahead->got.size() == 1);
  CHECK(ahead->got[0].type == core::event_type::error);
  CHECK(ahead->got[0].seq == 0);
  CHECK(f.ctx->census.sinks == 0);
  caf::anon_send(stream, cancel_atom::value);
}

TEST_CASE("a resumable stream keeps its events while running even with no linger") {
  fixture f;
  stream_options o;
  o.id = "s";
  o.linger_s = 0;
  o.orphaned = stream_options::orphan::keep;
  auto stream = f.stream(std::move(o));
  bool killed = false;
  caf::anon_send(stream, producer_atom::value, f.producer(killed));
  caf::anon_send(stream, core::make_delta("one "));
  caf::anon_send(stream, core::make_delta("two"));
  f.run();
  auto back = std::make_shared<recording_port>();
  f.attach(stream, back, 1);
  f.run();
  caf::anon_send(stream, core::make_done({}));
  f.run();
  CHECK(back->text() == "two");
  CHECK(f.ctx->census.lingering == 0);
  CHECK(f.ctx->census.streams == 0);  // no linger: gone at the end
}
