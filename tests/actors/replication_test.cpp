// Failover's pieces that need no cluster (actors/replication.hpp): what a replica holds
// and refuses, how a takeover reads the events it holds, and the quorum each node judges
// from its own view. The cluster tests (tests/cluster) run it across askd processes.
#include <catch2/catch.hpp>

#include "actors/replication.hpp"
#include "core/cluster_view.hpp"

using namespace askd;
using namespace askd::actors;

namespace {

using clock = std::chrono::steady_clock;

std::vector<core::stream_event> numbered(std::vector<core::stream_event> events,
                                         std::uint64_t from = 1) {
  for (auto& e : events) e.seq = from++;
  return events;
}

replica_open copy_of(const std::string& id, std::vector<core::stream_event> events = {}) {
  replica_open r;
  r.stream_id = id;
  r.request.repo_url = "/srv/repo";
  r.request.type = "local";
  r.request.messages = {{"user", "how?"}};
  r.request.provider = "openai";
  r.events = std::move(events);
  return r;
}

core::cluster_member member(const std::string& name, core::member_state state) {
  core::cluster_member m;
  m.name = name;
  m.address = "127.0.0.1:1";
  m.state = state;
  return m;
}

}  // namespace

TEST_CASE("a replica holds a stream's events in order and only from the stream's owner") {
  replica_store store;
  auto now = clock::now();
  auto meta = core::make_meta("a.1", "r", "openai", "m", "/srv/repo");
  REQUIRE(store.open(copy_of("a.1", numbered({meta})), "a", now).empty());
  CHECK(store.holds("a.1"));
  std::string why;
  auto batch = numbered({core::make_delta("x"), core::make_delta("y")}, 2);
  CHECK(store.append("a.1", "a", batch, now, why) == 3u);
  // A batch sent again after a lost answer: what it already has is skipped.
  auto again = numbered({core::make_delta("y"), core::make_delta("z")}, 3);
  CHECK(store.append("a.1", "a", again, now, why) == 4u);
  auto gap = numbered({core::make_delta("late")}, 9);
  CHECK_FALSE(store.append("a.1", "a", gap, now, why));
  CHECK(why.find("where 5 was due") != std::string::npos);
  auto stranger = numbered({core::make_delta("w")}, 5);
  CHECK_FALSE(store.append("a.1", "b", stranger, now, why));  // not its owner
  auto end = numbered({core::make_done({}), core::make_delta("after")}, 5);
  CHECK_FALSE(store.append("a.1", "a", end, now, why));  // nothing after the end
  auto taken = store.take_owned_by("a");
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].events.size() == 4);
  CHECK_FALSE(store.holds("a.1"));
  CHECK(store.bytes() == 0);
}

TEST_CASE("a replica refuses a copy out of a client's bounds and expires what ended") {
  replica_store store;
  auto now = clock::now();
  auto bad_id = copy_of("no-node-here");
  CHECK_FALSE(store.open(bad_id, "a", now).empty());
  auto bad_repo = copy_of("a.2");
  bad_repo.request.repo_url = std::string(3000, 'x');  // past max_repo_url_bytes
  CHECK_FALSE(store.open(bad_repo, "a", now).empty());
  auto no_messages = copy_of("a.3");
  no_messages.request.messages.clear();
  CHECK_FALSE(store.open(no_messages, "a", now).empty());
  auto out_of_order = copy_of("a.4", numbered({core::make_delta("x")}, 2));
  CHECK_FALSE(store.open(out_of_order, "a", now).empty());
  auto too_big = copy_of("a.5", numbered({core::make_delta(std::string(5 << 20, 'x'))}));
  CHECK_FALSE(store.open(too_big, "a", now).empty());
  CHECK(store.size() == 0);

  REQUIRE(store.open(copy_of("a.6", numbered({core::make_done({})})), "a", now).empty());
  REQUIRE(store.open(copy_of("a.7", numbered({core::make_delta("x")})), "a", now).empty());
  CHECK(store.expire(now + std::chrono::seconds(5), std::chrono::seconds(10),
                     std::chrono::seconds(60)) == 0);
  // Ended: kept as long as its owner lingers; running: until its owner went quiet.
  CHECK(store.expire(now + std::chrono::seconds(11), std::chrono::seconds(10),
                     std::chrono::seconds(60)) == 1);
  CHECK(store.holds("a.7"));
  CHECK(store.expire(now + std::chrono::seconds(61), std::chrono::seconds(10),
                     std::chrono::seconds(60)) == 1);
  CHECK(store.size() == 0);
}

TEST_CASE("a takeover reads the answer so far and a research's rounds from the events") {
  SECTION("a plain answer") {
    auto t = takeover_of(
        numbered({core::make_meta("a.1", "r", "p", "m", "x"), core::make_progress("retrieve", 0, 1),
                  core::make_sources({{"src/a.cpp", 1, 9, 0.5, ""}}), core::make_delta("Hello "),
                  core::make_delta("world")}));
    CHECK(t.text == "Hello world");
    CHECK(t.sources_sent);
    CHECK_FALSE(t.ended);
    CHECK(t.rounds.empty());
  }
  SECTION("a research: completed rounds, and the one in flight") {
    auto t = takeover_of(numbered({
        core::make_meta("a.1", "r", "p", "m", "x"),
        core::make_stage(1, "plan"),
        core::make_delta("## Research Plan\n\n"),
        core::make_sources({{"src/a.cpp", 1, 9, 0.5, ""}, {"src/a.cpp", 20, 30, 0.4, ""}}),
        core::make_delta("Plan text.\nNext: retries"),
        core::make_stage(2, "update"),
        core::make_delta("\n\n## Research Update 2\n\n"),
        core::make_delta("Upd"),
    }));
    REQUIRE(t.rounds.size() == 2);
    CHECK(t.rounds[0].number == 1);
    CHECK(t.rounds[0].kind == "plan");
    CHECK(t.rounds[0].text == "## Research Plan\n\nPlan text.\nNext: retries");
    CHECK(t.rounds[0].paths == std::vector<std::string>{"src/a.cpp"});
    CHECK(t.rounds[1].heading_sent);
    CHECK(t.rounds[1].text == "## Research Update 2\n\nUpd");
    CHECK(t.text == "Upd");       // the round in flight's answer, after its heading
    CHECK_FALSE(t.sources_sent);  // its retrieval is not out yet
  }
  SECTION("an ended stream") {
    CHECK(takeover_of(numbered({core::make_delta("x"), core::make_done({})})).ended);
  }
}

TEST_CASE("quorum: survivors of one loss after another keep it, a node cut off alone does not") {
  const auto settle = std::chrono::seconds(2);
  auto t0 = clock::now();
  core::cluster_view a("a", 1, "127.0.0.1:1");
  a.update(member("b", core::member_state::up));
  a.update(member("c", core::member_state::up));
  CHECK(a.quorum_now().majority());
  // b lost; once that has lasted a detection time with c still seen (2 of 3), b leaves
  // the base.
  a.update(member("b", core::member_state::down));
  a.settle(t0, settle);
  CHECK(a.quorum_now().base == 3);  // not yet
  a.settle(t0 + std::chrono::seconds(3), settle);
  auto q = a.quorum_now();
  CHECK(q.base == 2);
  CHECK(q.majority());
  // c lost too: 1 of 2. No majority (it may not move a replica), but half (a replica
  // here may take over: the other side of an even split has no majority either).
  a.update(member("c", core::member_state::down));
  a.settle(t0 + std::chrono::seconds(9), settle);
  q = a.quorum_now();
  CHECK(q.base == 2);
  CHECK_FALSE(q.majority());
  CHECK(q.half());

  // Cut off alone: both others lost within one detection time, so neither leaves the base
  // (when the first loss is old enough, the node no longer sees a majority).
  core::cluster_view j("j", 1, "127.0.0.1:4");
  j.update(member("k", core::member_state::up));
  j.update(member("l", core::member_state::up));
  j.update(member("k", core::member_state::down));
  j.settle(t0 + std::chrono::milliseconds(500), settle);
  j.update(member("l", core::member_state::down));
  j.settle(t0 + std::chrono::seconds(10), settle);
  q = j.quorum_now();
  CHECK(q.base == 3);
  CHECK(q.up == 1);
  CHECK_FALSE(q.half());
  // The partition heals: both back, in the base, a majority.
  j.update(member("k", core::member_state::up));
  j.update(member("l", core::member_state::up));
  CHECK(j.quorum_now().majority());
  CHECK(j.quorum_now().base == 3);
}

TEST_CASE("the replica is the best live node but the owner and the lost") {
  core::cluster_view a("a", 1, "127.0.0.1:1");
  CHECK(replica_choice(a, "a.123").empty());  // alone: none
  a.update(member("b", core::member_state::up));
  a.update(member("c", core::member_state::up));
  auto first = replica_choice(a, "a.123");
  CHECK((first == "b" || first == "c"));
  auto second = replica_choice(a, "a.123", {first});
  CHECK(second != first);
  CHECK(replica_choice(a, "a.123", {"b", "c"}).empty());
  // Where every node routes the stream when a is lost: the replica.
  core::cluster_view b("b", 1, "127.0.0.1:2");
  b.update(member("a", core::member_state::down));
  b.update(member("c", core::member_state::up));
  CHECK(b.owner_of("a.123") == first);
}
