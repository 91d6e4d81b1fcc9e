// The bookkeeping behind every limit (core::slot_table) and the per-client rate
// (core::rate_limiter), as values with the time passed in.
#include <catch2/catch.hpp>

#include <string>

#include "core/rate_limit.hpp"
#include "core/slot_table.hpp"

using askd::core::rate_limiter;
using askd::core::slot_table;
using claim = slot_table<std::string>::claim_result;
using std::chrono::milliseconds;

TEST_CASE("a slot table grants in order and refuses past its places") {
  slot_table<std::string> t(1, 2);
  CHECK(t.claim("a") == claim::granted);
  CHECK(t.claim("b") == claim::waiting);
  CHECK(t.reserve("c"));
  CHECK_FALSE(t.reserve("d"));
  CHECK(t.claim("d") == claim::refused);
  CHECK(t.claim("c") == claim::waiting);
  CHECK(t.active() == 1);
  CHECK(t.queued() == 2);
  CHECK(t.release("a") == std::vector<std::string>{"b"});
  CHECK(t.release("c").empty());  // was waiting: leaves the line
  CHECK(t.release("b").empty());
  CHECK(t.release("b").empty());  // twice is harmless
  CHECK(t.active() == 0);
  CHECK(t.queued() == 0);
}

TEST_CASE("a reserved holder does not block a claim behind it") {
  slot_table<std::string> t(1, 1);
  CHECK(t.reserve("early"));
  CHECK(t.claim("late") == claim::granted);
  CHECK(t.claim("early") == claim::waiting);
  CHECK(t.release("late") == std::vector<std::string>{"early"});
}

TEST_CASE("a slot table says who has a slot and who waits for one") {
  slot_table<std::string> t(1, 2);
  CHECK(t.claim("a") == claim::granted);
  CHECK(t.claim("b") == claim::waiting);
  CHECK(t.reserve("c"));
  CHECK((t.has_slot("a") && !t.waiting("a")));
  CHECK((t.waiting("b") && !t.has_slot("b")));
  CHECK((!t.waiting("c") && !t.has_slot("c")));
  CHECK((!t.waiting("x") && !t.has_slot("x")));
  t.yield("a");
  CHECK((t.has_slot("b") && !t.has_slot("a") && t.holds("a")));
}

TEST_CASE("a client's bucket allows its burst - then its rate - and says how long to wait") {
  rate_limiter r(2.0, 3);  // 2 per second, 3 at once
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CHECK(r.take("a", t0) == 0);
  CHECK(r.take("a", t0) == 0);
  CHECK(r.take("a", t0) == 0);
  CHECK(r.take("a", t0) == 500);  // the next token in half a second
  CHECK(r.take("b", t0) == 0);    // another client has its own bucket
  CHECK(r.take("a", t0 + milliseconds(499)) > 0);
  CHECK(r.take("a", t0 + milliseconds(1000)) == 0);
}

TEST_CASE("a rate of 0 is off - and idle buckets are forgotten past max_keys") {
  rate_limiter off(0, 1);
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 100; ++i) CHECK(off.take("a", t0) == 0);
  rate_limiter r(1.0, 1, 2);
  CHECK(r.take("a", t0) == 0);
  CHECK(r.take("b", t0) == 0);
  CHECK(r.take("c", t0) > 0);  // two busy clients fill the table: a third waits
  CHECK(r.take("c", t0 + std::chrono::seconds(5)) == 0);  // idle ones are dropped for it
  CHECK(r.keys() <= 2);
}
