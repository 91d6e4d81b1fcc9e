// The two pieces of a stream that threads other than its actor touch: the hub (numbering,
// fan-out, what is kept) and a generation's output (which attempt's text is taken, and
// a continuation's trimming). No actors: plain calls, and real threads where it matters.
#include <catch2/catch.hpp>

#include <functional>
#include <thread>

#include "actors/generation_output.hpp"
#include "actors/stream_hub.hpp"
#include "tests/support/recording_port.hpp"

using namespace askd;
using namespace askd::actors;
using askd::test::recording_port;

namespace {

// A generation's output into a hub with one port attached.
struct output_fixture {
  std::shared_ptr<stream_hub> hub = std::make_shared<stream_hub>();
  std::shared_ptr<recording_port> port = std::make_shared<recording_port>();
  generation_output out{hub};
  output_fixture() { hub->attach(1, port, 0); }
};

}  // namespace

TEST_CASE("the hub numbers events - hands each to every port - and takes nothing after the end") {
  stream_hub hub;
  auto a = std::make_shared<recording_port>();
  auto b = std::make_shared<recording_port>();
  CHECK(hub.attach(1, a, 0) == stream_hub::attached::live);
  CHECK(hub.publish(core::make_delta("one ")));
  CHECK(hub.attach(2, b, 0) == stream_hub::attached::live);  // nothing kept: it gets what comes
  CHECK(hub.publish(core::make_delta("two")));
  CHECK(hub.publish(core::make_done({})));
  CHECK_FALSE(hub.publish(core::make_delta("late")));
  CHECK(hub.ended());
  REQUIRE(a->got.size() == 3);
  CHECK(a->got[0].seq == 1);
  CHECK(a->got[2].seq == 3);
  CHECK(a->text() == "one two");
  CHECK(b->text() == "two");
  CHECK(hub.deltas().bytes == 7);
  CHECK(hub.deltas().first.has_value());
}

TEST_CASE("a detached port gets nothing more") {
  stream_hub hub;
  auto a = std::make_shared<recording_port>();
  hub.attach(7, a, 0);
  hub.publish(core::make_delta("x"));
  hub.detach(7);
  hub.publish(core::make_delta("y"));
  CHECK(a->text() == "x");
}

TEST_CASE("a resumable hub replays after the resume point - and refuses what it cannot serve") {
  stream_hub hub(1 << 20);
  for (auto* t : {"a", "b", "c"}) hub.publish(core::make_delta(t));
  auto late = std::make_shared<recording_port>();
  CHECK(hub.attach(1, late, 1) == stream_hub::attached::live);
  CHECK(late->text() == "bc");
  CHECK(late->lives == 1);
  auto ahead = std::make_shared<recording_port>();
  CHECK(hub.attach(2, ahead, 9) == stream_hub::attached::refused);
  REQUIRE(ahead->got.size() == 1);
  CHECK(ahead->got[0].type == core::event_type::error);
  CHECK(ahead->got[0].seq == 0);
  hub.publish(core::make_done({}));
  auto seen_all = std::make_shared<recording_port>();
  CHECK(hub.attach(3, seen_all, 4) == stream_hub::attached::finished);
  CHECK(seen_all->closes == 1);
  CHECK(seen_all->got.empty());
}

TEST_CASE("events published from two threads at once keep one gapless order for every port") {
  stream_hub hub;
  auto a = std::make_shared<recording_port>();
  auto b = std::make_shared<recording_port>();
  hub.attach(1, a, 0);
  hub.attach(2, b, 0);
  auto publish = [&](char c) {
    for (int i = 0; i < 5000; ++i) hub.publish(core::make_delta(std::string(1, c)));
  };
  std::thread t1(publish, 'x');
  std::thread t2(publish, 'y');
  t1.join();
  t2.join();
  REQUIRE(a->got.size() == 10000);
  for (std::size_t i = 0; i < a->got.size(); ++i) CHECK(a->got[i].seq == i + 1);
  CHECK(a->text() == b->text());
}

TEST_CASE("an attempt's text is taken only while it is the current one") {
  output_fixture f;
  auto& out = f.out;
  auto& port = f.port;
  out.offer(1, "before it began ");
  out.begin(1);
  out.offer(1, "first ");
  out.end_attempt();
  out.offer(1, "after it was given up ");
  out.begin(2);
  out.offer(1, "from the old attempt ");
  CHECK(port->text() == "first ");
  CHECK(out.sent() == "first ");
  CHECK(out.sent_bytes() == 6);
}

TEST_CASE("a continuation is held back until the overlap is known - then trimmed") {
  output_fixture f;
  auto& out = f.out;
  auto& port = f.port;
  out.begin(1);
  out.offer(1, "Hello there, wor");
  out.end_attempt();
  out.begin(2);  // continues: its start is held while it could repeat the answer's end
  out.offer(2, "there, w");
  CHECK(port->text() == "Hello there, wor");
  out.offer(2, "orld");  // it cannot repeat more: released at once, trimmed
  CHECK(port->text() == "Hello there, world");
  out.offer(2, std::string(max_overlap_bytes, '!'));
  CHECK(port->text() == "Hello there, world" + std::string(max_overlap_bytes, '!'));
  out.offer(2, "?");  // past the start: straight through
  CHECK(port->text().back() == '?');
}

TEST_CASE("a continuation that cannot repeat the answer's end is released at once") {
  output_fixture f;
  f.out.begin(1);
  f.out.offer(1, "The answer so far");
  f.out.end_attempt();
  f.out.begin(2);
  f.out.offer(2, " and");  // no end of the answer starts so: nothing to wait for
  CHECK(f.port->text() == "The answer so far and");
}

TEST_CASE("a continuation that ends early releases what it held") {
  output_fixture f;
  auto& out = f.out;
  auto& port = f.port;
  out.begin(1);
  out.offer(1, "abc");
  out.end_attempt();
  out.begin(2);
  out.offer(2, "a");  // could still be the start of "abc" again: held
  CHECK(port->text() == "abc");
  out.end_attempt();
  CHECK(port->text() == "abca");
}

TEST_CASE("a failed attempt's late text is not taken - what it held still goes out") {
  output_fixture f;
  f.out.begin(1);
  f.out.offer(1, "abc");
  f.out.end_attempt();
  f.out.begin(2);       // a continuation: its start is held
  f.out.offer(2, "a");  // held (it could be "abc" again)
  f.out.retire(2);      // its deadline passed
  f.out.offer(2, "bc");  // still arriving from the curl thread: dropped
  CHECK(f.port->text() == "abc");
  f.out.end_attempt();  // the supervisor hears of the failure
  CHECK(f.port->text() == "abca");
  CHECK(f.out.sent() == "abca");
  f.out.begin(3);
  f.out.offer(3, "b");  // held (continuing), then released at the end
  f.out.end_attempt();
  CHECK(f.port->text() == "abcab");
}

TEST_CASE("a research round drops the heading a model writes after askd wrote it") {
  output_fixture f;
  f.out.drop_leading_heading("## Research Update 2");
  f.out.begin(1);
  for (auto* piece : {"\n## Resea", "rch Update 2", "\n\nThe limiter ", "queues."})
    f.out.offer(1, piece);
  f.out.end_attempt();
  CHECK(f.port->text() == "The limiter queues.");
  CHECK(f.out.sent() == "The limiter queues.");
  // A continuation is not a fresh start: a heading in it is the model's text.
  f.out.begin(2);
  f.out.offer(2, " ## Research Plan is next.");
  f.out.end_attempt();
  CHECK(f.out.sent() == "The limiter queues. ## Research Plan is next.");
}

TEST_CASE("an answer that starts otherwise is kept whole - even when it ends at once") {
  output_fixture f;
  f.out.drop_leading_heading("## Research Plan");
  f.out.begin(1);
  f.out.offer(1, "## Retry policy\nIt backs off.");
  f.out.end_attempt();
  CHECK(f.port->text() == "## Retry policy\nIt backs off.");
  output_fixture g;
  g.out.drop_leading_heading("## Final Conclusion");
  g.out.begin(1);
  g.out.offer(1, "## Final Concl");  // the attempt fails here: what it held still counts
  g.out.end_attempt();
  g.out.begin(2);  // nothing was sent: a fresh start, filtered again
  g.out.offer(2, "## Final Conclusion\nAll done.");
  g.out.end_attempt();
  CHECK(g.port->text() == "All done.");
  // An attempt that failed having said only space leaves the next one a fresh start.
  output_fixture h;
  h.out.drop_leading_heading("## Research Plan");
  h.out.begin(1);
  h.out.offer(1, "\n ");
  h.out.end_attempt();
  h.out.begin(2);
  h.out.offer(2, "## Research Plan\n");
  h.out.offer(2, "\nFirst.");
  h.out.end_attempt();
  CHECK(h.port->text() == "First.");
}

namespace {

// A port that is behind after every `pace` deltas until its (pretend) connection drains:
// the test plays the connection, calling the resume the hub gave it.
struct paced_port : recording_port {
  std::size_t pace;
  std::size_t since_drain = 0;
  std::function<void()> resume;
  std::uint64_t lost_at = 0;
  int pauses = 0;
  explicit paced_port(std::size_t p) : pace(p) {}
  void deliver(const core::stream_event& e) override {
    recording_port::deliver(e);
    ++since_drain;
  }
  bool behind() const override { return since_drain >= pace; }
  void pause(std::function<void()> r) override {
    ++pauses;
    resume = std::move(r);
  }
  void lost(std::uint64_t dropped) override { lost_at = dropped; }
  // The connection drained: take more.
  bool drain() {
    if (!resume) return false;
    since_drain = 0;
    auto r = std::move(resume);
    resume = nullptr;
    r();
    return true;
  }
};

}  // namespace

TEST_CASE("a watcher that falls behind is paused and catches up from the kept events in order") {
  auto hub = std::make_shared<stream_hub>(1 << 20);
  auto slow = std::make_shared<paced_port>(2);
  auto fast = std::make_shared<recording_port>();
  hub->attach(1, slow, 0);
  hub->attach(2, fast, 0);
  for (auto* t : {"a", "b", "c", "d", "e"}) hub->publish(core::make_delta(t));
  // Two events, then it waited for its connection; the fast one had everything.
  CHECK(slow->text() == "ab");
  CHECK(fast->text() == "abcde");
  REQUIRE(slow->drain());
  CHECK(slow->text() == "abcd");
  hub->publish(core::make_delta("f"));
  hub->publish(core::make_done({}));
  CHECK(hub->ports() == 1);  // the paused one stays after the end until it has read it
  while (slow->drain()) {
  }
  CHECK(slow->text() == "abcdef");
  REQUIRE_FALSE(slow->got.empty());
  CHECK(slow->got.back().type == core::event_type::done);
  for (std::size_t i = 0; i < slow->got.size(); ++i) CHECK(slow->got[i].seq == i + 1);
  CHECK(hub->ports() == 0);
}

TEST_CASE("an attach with a long replay reads it at its pace and then goes live") {
  auto hub = std::make_shared<stream_hub>(1 << 20);
  for (int i = 0; i < 10; ++i) hub->publish(core::make_delta(std::to_string(i)));
  auto watcher = std::make_shared<paced_port>(3);
  CHECK(hub->attach(1, watcher, 0) == stream_hub::attached::live);
  CHECK(watcher->text() == "012");
  CHECK(watcher->lives == 0);
  int drains = 0;
  while (watcher->drain()) ++drains;
  CHECK(drains == 3);
  CHECK(watcher->text() == "0123456789");
  CHECK(watcher->lives == 1);
  hub->publish(core::make_delta("x"));  // live now
  CHECK(watcher->text() == "0123456789x");
}

TEST_CASE("a paused watcher whose missed events were dropped is told so - not given a gap") {
  auto hub = std::make_shared<stream_hub>(4096);
  auto slow = std::make_shared<paced_port>(1);
  hub->attach(1, slow, 0);
  for (int i = 0; i < 200; ++i) hub->publish(core::make_delta(std::string(100, 'x')));
  CHECK(slow->got.size() == 1);
  REQUIRE(slow->drain());
  CHECK(slow->lost_at > 1);
  CHECK(slow->got.size() == 1);  // nothing after the gap
  CHECK(hub->ports() == 0);
}

TEST_CASE("a hub that keeps nothing never pauses a port") {
  stream_hub hub;
  auto p = std::make_shared<paced_port>(1);
  hub.attach(1, p, 0);
  for (auto* t : {"a", "b", "c"}) hub.publish(core::make_delta(t));
  CHECK(p->text() == "abc");
  CHECK(p->pauses == 0);
}

TEST_CASE("a gated hub gives clients only what its replica has - in order - and keeps the rest") {
  stream_hub hub(64);  // a tiny replay buffer: uncommitted events are kept past it anyway
  auto early = std::make_shared<recording_port>();
  hub.attach(1, early, 0);
  hub.publish(core::make_delta("a"));  // before the gate: out at once
  std::vector<core::stream_event> replicated;
  hub.gate([&](const core::stream_event& e) { replicated.push_back(e); });
  for (auto piece : {"b", "c", "d"}) hub.publish(core::make_delta(piece));
  hub.publish(core::make_done({}));
  REQUIRE(replicated.size() == 4);  // handed to the replicator, numbered
  CHECK(replicated.front().seq == 2);
  CHECK(early->text() == "a");  // nothing past the commit point reaches a client
  auto late = std::make_shared<recording_port>();
  // A resume cannot ask past what the replica has.
  CHECK(hub.attach(2, late, 3) == stream_hub::attached::refused);
  late = std::make_shared<recording_port>();
  CHECK(hub.attach(3, late, 1) == stream_hub::attached::live);
  CHECK(late->text().empty());
  hub.commit(3);
  CHECK(early->text() == "abc");
  CHECK(late->text() == "bc");
  hub.commit(2);  // an older acknowledgement changes nothing
  CHECK(early->got.size() == 3);
  hub.commit(5);
  CHECK(early->text() == "abcd");
  CHECK(early->got.back().type == core::event_type::done);
  CHECK(hub.ports() == 0);  // both had the end
}

TEST_CASE("a fenced hub tells its ports the stream moved - and later ones too") {
  stream_hub hub(1 << 20);
  auto port = std::make_shared<recording_port>();
  hub.attach(1, port, 0);
  hub.gate([](const core::stream_event&) {});
  hub.publish(core::make_delta("never seen"));
  hub.fence();
  CHECK(port->moves == 1);
  CHECK(port->text().empty());
  CHECK(hub.fenced());
  CHECK_FALSE(hub.publish(core::make_delta("more")));
  auto later = std::make_shared<recording_port>();
  CHECK(hub.attach(2, later, 0) == stream_hub::attached::refused);
  CHECK(later->moves == 1);
  CHECK(later->got.empty());
}

TEST_CASE("a hub ungated (no replica to be had) releases what it held and goes on at once") {
  stream_hub hub(1 << 20);
  auto port = std::make_shared<recording_port>();
  hub.attach(1, port, 0);
  hub.gate([](const core::stream_event&) {});
  hub.publish(core::make_delta("held "));
  CHECK(port->text().empty());
  hub.ungate();
  CHECK(port->text() == "held ");
  hub.publish(core::make_delta("live"));
  CHECK(port->text() == "held live");
}

TEST_CASE("a takeover's output continues the text sent before - or skips it when written again") {
  SECTION("a model continues: the continuation's repeat of the end is trimmed") {
    output_fixture f;
    f.out.seed("The answer so far", false);
    f.out.begin(1);
    f.out.offer(1, "answer so far, and the rest.");
    f.out.end_attempt();
    CHECK(f.port->text() == ", and the rest.");
    CHECK(f.out.sent() == "The answer so far, and the rest.");
  }
  SECTION("the local provider writes its answer again: what repeats is skipped") {
    output_fixture f;
    f.out.seed("one two ", true);
    f.out.begin(1);
    f.out.offer(1, "one ");
    f.out.offer(1, "two th");
    f.out.offer(1, "ree");
    f.out.end_attempt();
    CHECK(f.port->text() == "three");
    CHECK(f.out.sent() == "one two three");
  }
}
