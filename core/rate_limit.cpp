#include "core/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace askd::core {

rate_limiter::rate_limiter(double rate, double burst, std::size_t max_keys)
    : base_rate_(rate),
      base_burst_(std::max(1.0, burst)),
      rate_(rate),
      burst_(std::max(1.0, burst)),
      max_keys_(std::max<std::size_t>(1, max_keys)) {}

double rate_limiter::level(const bucket& b, time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.at).count();
  return std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
}

void rate_limiter::prune(time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();)
    it = level(it->second, now) >= burst_ ? buckets_.erase(it) : std::next(it);
}

std::int64_t rate_limiter::take(const std::string& key, time_point now) {
  if (!enabled()) return 0;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) prune(now);
    // Still full of clients that are all busy: refuse the newcomer rather than grow.
    if (buckets_.size() >= max_keys_) return static_cast<std::int64_t>(std::ceil(1000 / rate_));
    it = buckets_.emplace(key, bucket{burst_, now}).first;
  }
  auto& b = it->second;
  b.tokens = level(b, now);
  b.at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / rate_ * 1000)));
}

}  // namespace askd::core
