// askload's report arithmetic: percentiles and the verify verdicts.
#include <catch2/catch.hpp>

#include "apps/askload/stats.hpp"

using askload::compare;
using askload::distribution_of;
using askload::verdict;

TEST_CASE("askload percentiles are nearest-rank") {
  std::vector<float> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(static_cast<float>(i));
  auto d = distribution_of(hundred);
  CHECK(d.p50 == 50);
  CHECK(d.p90 == 90);
  CHECK(d.p99 == 99);
  CHECK(d.max == 100);
  CHECK(d.mean == Approx(50.5));
  auto two = distribution_of({2, 1});
  CHECK(two.p50 == 1);
  CHECK(two.p99 == 2);
  CHECK(distribution_of({}).n == 0);
}

TEST_CASE("askload tells lost from duplicated from corrupted text") {
  CHECK(compare("the whole answer", "the whole answer") == verdict::exact);
  CHECK(compare("the whole answer", "the answer") == verdict::lost);
  CHECK(compare("the whole answer", "the whole whole answer") == verdict::duplicated);
  CHECK(compare("the whole answer", "the hole answer!") == verdict::corrupted);
  CHECK(compare("abc", "") == verdict::lost);
}
