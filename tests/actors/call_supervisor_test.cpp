// The supervisor's backoff schedule, as a pure function (no sleeping).
#include <catch2/catch.hpp>

#include "actors/call_supervisor.hpp"

using askd::actors::backoff_delay;
using std::chrono::milliseconds;

TEST_CASE("backoff doubles from the base and jitter scales it") {
  CHECK(backoff_delay(1, 1000, 1.0) == milliseconds(1000));
  CHECK(backoff_delay(2, 1000, 1.0) == milliseconds(2000));
  CHECK(backoff_delay(3, 1000, 1.0) == milliseconds(4000));
  CHECK(backoff_delay(1, 1000, 0.8) == milliseconds(800));
  CHECK(backoff_delay(3, 1000, 1.2) == milliseconds(4800));
  CHECK(backoff_delay(2, 0, 1.0) == milliseconds(0));
  CHECK(backoff_delay(40, 1, 1.0) == milliseconds(1 << 20));  // capped exponent, no overflow
}
