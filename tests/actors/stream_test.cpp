// The stream actor under CAF's deterministic testing scheduler: numbering, fan-out to
// every sink in order, and cancellation when the last sink leaves.
#include <catch2/catch.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include "actors/messages.hpp"
#include "actors/sink.hpp"
#include "actors/stream.hpp"

using namespace askd;
using namespace askd::actors;

namespace {

struct recording_port : sink_port {
  std::vector<core::stream_event> got;
  void deliver(const core::stream_event& e) override { got.push_back(e); }
};

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<engine_context> ctx = std::make_shared<engine_context>();

  fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }
  ~fixture() {
    sched->run();
    sys.reset();
  }
  void run() { sched->run(); }

  // A producer that does nothing but notice when it is killed.
  caf::actor producer(bool& killed) {
    auto p = sys->spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
    caf::actor_cast<caf::abstract_actor*>(p)->attach_functor([&killed] { killed = true; });
    return p;
  }
};

}  // namespace

TEST_CASE("a stream numbers events and fans each out to every sink - in order") {
  fixture f;
  auto stream = spawn_stream(*f.sys, f.ctx);
  auto a = std::make_shared<recording_port>();
  auto b = std::make_shared<recording_port>();
  caf::anon_send(stream, attach_atom::value, spawn_sink(*f.sys, f.ctx, a, stream));
  caf::anon_send(stream, attach_atom::value, spawn_sink(*f.sys, f.ctx, b, stream));
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
  auto stream = spawn_stream(*f.sys, f.ctx);
  auto a = std::make_shared<recording_port>();
  auto b = std::make_shared<recording_port>();
  auto sink_a = spawn_sink(*f.sys, f.ctx, a, stream);
  auto sink_b = spawn_sink(*f.sys, f.ctx, b, stream);
  caf::anon_send(stream, attach_atom::value, sink_a);
  caf::anon_send(stream, attach_atom::value, sink_b);
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
  CHECK(killed);
  CHECK(f.ctx->census.streams == 0);
  CHECK(f.ctx->census.sinks == 0);
}

TEST_CASE("a producer that dies without a terminal event ends the stream with an error") {
  fixture f;
  auto stream = spawn_stream(*f.sys, f.ctx);
  auto a = std::make_shared<recording_port>();
  caf::anon_send(stream, attach_atom::value, spawn_sink(*f.sys, f.ctx, a, stream));
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
