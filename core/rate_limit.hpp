// core/rate_limit.hpp — per-client request rate: one token bucket per key (an API key,
// else the client's address). A bucket holds at most `burst` tokens and gains `rate`
// per second; a request takes one. Time is passed in, so tests need no clock.
#pragma once

#include <chrono>
#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace askd::core {

class rate_limiter {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // `rate` 0 turns the limit off. At most `max_keys` buckets are kept: past that, full
  // (idle) buckets are forgotten, so memory stays bounded whatever the addresses.
  rate_limiter(double rate, double burst, std::size_t max_keys = 100000);

  // Takes a token for `key` at `now`: 0 when the request may go, else the milliseconds
  // until the bucket has a token again (for Retry-After).
  std::int64_t take(const std::string& key, time_point now);

  bool enabled() const { return rate_ > 0; }
  // In a cluster each node enforces its part (`share` of 1) of the rate and the burst
  // (at least one request); the configured values are what the whole cluster allows.
  void set_share(double share) {
    rate_ = base_rate_ * share;
    burst_ = std::max(1.0, base_burst_ * share);
  }
  std::size_t keys() const { return buckets_.size(); }

 private:
  struct bucket {
    double tokens;
    time_point at;
  };
  double level(const bucket& b, time_point now) const;
  void prune(time_point now);

  double base_rate_;
  double base_burst_;
  double rate_;
  double burst_;
  std::size_t max_keys_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace askd::core
