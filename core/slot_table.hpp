// core/slot_table.hpp — the bookkeeping of a concurrency limit with a bounded queue, as
// a value (no threads, no clocks): the limiter actors and the indexing limit of the repo
// registry keep one each, so every limit in askd admits, queues and refuses alike.
//
// A holder first takes a *place* (reserve): there are max_active + max_queued places, and
// when none is free the holder is refused at once. It then asks for a *slot* (claim):
// max_active slots, given in the order they were asked for. A holder that leaves, from
// any state, gives its place and its slot back (release); the slot goes to the next
// holder waiting for one. A holder may also give back only its slot (yield) and keep its
// place, to claim again later (a deep research between its rounds).
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <map>
#include <vector>

namespace askd::core {

template <class Key>
class slot_table {
 public:
  enum class claim_result { granted, waiting, refused };

  slot_table(std::size_t max_active, std::size_t max_queued)
      : max_active_(max_active), max_places_(max_active + max_queued) {}

  // Takes a place for `k`; false when every place is taken. Idempotent.
  bool reserve(const Key& k) {
    if (holders_.count(k)) return true;
    if (holders_.size() >= max_places_) return false;
    holders_.emplace(k, state::placed);
    return true;
  }

  // `k` wants a slot (taking a place first if it has none): granted now, waiting its
  // turn, or refused (no place).
  claim_result claim(const Key& k) {
    if (!reserve(k)) return claim_result::refused;
    auto& s = holders_[k];
    if (s == state::active) return claim_result::granted;
    if (s == state::claiming) return claim_result::waiting;
    if (active_ < max_active_ && claiming_.empty()) {
      s = state::active;
      ++active_;
      return claim_result::granted;
    }
    s = state::claiming;
    claiming_.push_back(k);
    return claim_result::waiting;
  }

  // `k` leaves; returns the holders that got a slot by it (in order). Unknown keys are
  // ignored, so releasing twice is harmless.
  std::vector<Key> release(const Key& k) {
    auto it = holders_.find(k);
    if (it == holders_.end()) return {};
    if (it->second == state::active) --active_;
    if (it->second == state::claiming)
      claiming_.erase(std::find(claiming_.begin(), claiming_.end(), k));
    holders_.erase(it);
    return grant_waiting();
  }

  // `k` gives its slot back but keeps its place; returns the holders that got a slot by
  // it. Without a slot (or unknown), nothing happens.
  std::vector<Key> yield(const Key& k) {
    auto it = holders_.find(k);
    if (it == holders_.end() || it->second != state::active) return {};
    it->second = state::placed;
    --active_;
    return grant_waiting();
  }

  // The number of slots changes (a cluster node's share of a limit, recomputed when
  // members come and go); the queue keeps its length. Holders with a slot keep it even
  // past a smaller number: the next slots go only once the active are below it. Returns
  // the holders that got a slot by a larger number.
  std::vector<Key> resize(std::size_t max_active) {
    max_places_ = max_places_ - max_active_ + max_active;
    max_active_ = max_active;
    return grant_waiting();
  }

  bool holds(const Key& k) const { return holders_.count(k) != 0; }
  bool has_slot(const Key& k) const { return is(k, state::active); }
  // Whether `k` claimed and waits for its turn.
  bool waiting(const Key& k) const { return is(k, state::claiming); }
  std::size_t active() const { return active_; }
  // Holders with a place but no slot: waiting for one, or not yet asking.
  std::size_t queued() const { return holders_.size() - active_; }

 private:
  enum class state { placed, claiming, active };

  bool is(const Key& k, state s) const {
    auto it = holders_.find(k);
    return it != holders_.end() && it->second == s;
  }

  // Free slots go to those claiming, in order.
  std::vector<Key> grant_waiting() {
    std::vector<Key> granted;
    while (active_ < max_active_ && !claiming_.empty()) {
      holders_[claiming_.front()] = state::active;
      ++active_;
      granted.push_back(std::move(claiming_.front()));
      claiming_.pop_front();
    }
    return granted;
  }

  std::size_t max_active_;
  std::size_t max_places_;
  std::size_t active_ = 0;
  std::map<Key, state> holders_;
  std::deque<Key> claiming_;
};

}  // namespace askd::core
