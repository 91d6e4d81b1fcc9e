#include "actors/generation_output.hpp"

#include <algorithm>

#include "actors/answer_cache.hpp"
#include "core/log.hpp"
#include "rag/research.hpp"

namespace askd::actors {

std::size_t continuation_overlap(std::string_view sent, std::string_view next,
                                 std::size_t min_overlap) {
  auto most = std::min({sent.size(), next.size(), max_overlap_bytes});
  // A shorter repeat counts only when it is the whole answer so far (a restart).
  auto least = std::max<std::size_t>(1, std::min(min_overlap, sent.size()));
  for (auto k = most; k >= least; --k)
    if (sent.substr(sent.size() - k) == next.substr(0, k)) return k;
  return 0;
}

namespace {

// Whether more of a continuation's start could still change what it repeats of `sent`:
// some end of `sent` longer than `held` begins with `held`. When none does, what is held
// can go out now (trimmed) instead of waiting for max_overlap_bytes.
bool overlap_open(std::string_view sent, std::string_view held) {
  auto most = std::min(sent.size(), max_overlap_bytes);
  for (auto len = held.size() + 1; len <= most; ++len)
    if (sent.substr(sent.size() - len, held.size()) == held) return true;
  return false;
}

}  // namespace

void generation_output::offer(int attempt, std::string_view text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (attempt != current_ || retired_ || text.empty()) return;
  if (replaying_) {
    auto rest = std::string_view(sent_).substr(replayed_);
    auto n = std::mismatch(text.begin(), text.end(), rest.begin(), rest.end()).first - text.begin();
    replayed_ += static_cast<std::size_t>(n);
    text.remove_prefix(static_cast<std::size_t>(n));
    if (text.empty()) return;  // all of it said before
    // Past what was sent (or, had the answer changed, where it changed): new text.
    if (replayed_ < sent_.size())
      core::log_warn("replayed answer differs").kv("at", static_cast<std::uint64_t>(replayed_));
    replaying_ = false;
    return forward(text);
  }
  if (leading_) {
    lead_ += text;
    return release_lead(false);
  }
  if (!trimming_) return forward(text);
  held_ += text;
  if (held_.size() >= max_overlap_bytes || !overlap_open(sent_, held_)) release_held();
}

void generation_output::seed(std::string text, bool replay) {
  std::lock_guard<std::mutex> lock(mutex_);
  sent_ = std::move(text);
  replaying_ = replay && !sent_.empty();
  replayed_ = 0;
}

void generation_output::begin(int attempt) {
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = attempt;
  retired_ = false;
  trimming_ = !sent_.empty() && !replaying_;
  held_.clear();
  leading_ = !heading_.empty() && sent_.empty();
  lead_.clear();
}

void generation_output::end_attempt() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_lead(true);
  release_held();
  current_ = 0;
}

void generation_output::retire(int attempt) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (attempt == current_) retired_ = true;
}

void generation_output::record_to(std::shared_ptr<answer_flight> flight) {
  std::lock_guard<std::mutex> lock(mutex_);
  flight_ = std::move(flight);
}

std::string generation_output::sent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sent_;
}

std::size_t generation_output::sent_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sent_.size();
}

void generation_output::forward(std::string_view text) {
  if (text.empty()) return;
  sent_ += text;
  hub_->publish(core::make_delta(std::string(text)));
  if (flight_) flight_->record(text);
}

void generation_output::release_lead(bool final) {
  if (!leading_) return;
  auto heading = rag::leading_heading_bytes(lead_, final, heading_);
  if (!heading) return;
  leading_ = false;
  forward(std::string_view(lead_).substr(*heading));
  lead_.clear();
}

void generation_output::release_held() {
  if (!trimming_) return;
  trimming_ = false;
  auto overlap = continuation_overlap(sent_, held_);
  if (overlap)
    core::log_info("continuation trimmed").kv("bytes", static_cast<std::uint64_t>(overlap));
  forward(std::string_view(held_).substr(overlap));
  held_.clear();
}

}  // namespace askd::actors
