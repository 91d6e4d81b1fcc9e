// actors/answer_cache.hpp — answers given again without asking upstream again.
//
// The unit is one generation (a round's): its key is a digest of what the provider would
// be asked — the provider, the model, the prompt as assembled (system prompt in the
// request's language, the conversation, the retrieved excerpts of the indexed commit, the
// file asked about) — and the request's repository token, so an answer built from a
// private repository is never given to a request without that same token. Whatever
// changes the question or what was found for it changes the key; a new commit that does
// not change the excerpts found leaves the answer as it was, which is the answer the
// model would be given the same prompt for.
//
// A finished, clean answer (not degraded, not cancelled) is kept for
// answer_cache.ttl_s, the least recently used dropped past answer_cache.max_mb, and
// replayed delta by delta as it was first sent. While a generation runs, identical
// questions follow it (single flight): each gets the text so far at once, then every
// piece as it comes, and its end — one upstream call for all of them. A follower whose
// leader goes without an answer (its client left, its provider failed) goes on by
// itself, continuing from the text it already has (actors/call_supervisor.hpp).
//
// No CAF here: the flight's text arrives on the curl thread (through the leader's
// generation_output) and goes on to each follower's output on the same thread. Locks,
// in this order: the leader's output, the flight, a follower's output (then its hub).
// The cache's own lock is never held with a flight's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/chat_request.hpp"
#include "core/config.hpp"
#include "core/event.hpp"

namespace askd::actors {

class generation_output;
class answer_cache;

// How a generation ended: a flight's leader, as its followers hear it, and a kept
// answer's end (then nothing degraded).
struct flight_end {
  std::string finish_reason;
  core::token_usage usage;
  bool usage_reported = false;
  std::vector<std::string> degraded;
};

// An answer as its generation sent it: the text, cut where its deltas were cut.
struct cached_answer {
  std::string text;
  std::vector<std::uint32_t> ends;  // each delta's end in `text`
  flight_end end;
  // What it holds against answer_cache.max_mb (its key included).
  std::size_t bytes() const { return text.size() + ends.size() * 4 + 64 + 160; }
  // Each delta, in order.
  template <class F>
  void each_delta(F f) const {
    std::uint32_t from = 0;
    for (auto end : ends) {
      f(std::string_view(text).substr(from, end - from));
      from = end;
    }
  }
};

// One generation answered for everyone who asked the same thing while it ran.
class answer_flight {
 public:
  answer_flight(answer_cache& cache, std::string key, std::size_t max_bytes)
      : cache_(cache), key_(std::move(key)), max_bytes_(max_bytes) {}
  answer_flight(const answer_flight&) = delete;
  answer_flight& operator=(const answer_flight&) = delete;

  // The leader's output sent `text` to its clients (under the output's lock, any thread):
  // kept, and given to every follower.
  void record(std::string_view text);

  // A follower: `out` gets the text so far (as attempt 1), then every piece as it comes;
  // `ended` is called once, on any thread, when the leader ends: with how, when it
  // answered; with nullopt when it went without an answer. False: too late (the flight
  // ended or its text is past what is kept): ask upstream.
  using end_handler = std::function<void(const std::optional<flight_end>&)>;
  bool join(std::shared_ptr<generation_output> out, end_handler ended);
  // A follower went (its client left): nothing more is given to `out`.
  void leave(const generation_output* out);

  // The leader answered: its followers hear `end`; kept in the cache when it is clean.
  void finish(const flight_end& end);
  // The leader went without an answer (failed, cancelled): its followers go on alone.
  // Nothing when it had finished.
  void abandon();

 private:
  void close(const std::optional<flight_end>& end);

  answer_cache& cache_;
  const std::string key_;
  const std::size_t max_bytes_;
  std::mutex mutex_;
  cached_answer answer_;
  bool overflow_ = false;  // past max_bytes_: not kept, no new followers
  bool over_ = false;
  struct follower {
    std::shared_ptr<generation_output> out;
    end_handler ended;
  };
  std::vector<follower> followers_;
};

class answer_cache {
 public:
  using clock = std::chrono::steady_clock;

  explicit answer_cache(const core::answer_cache_settings& settings);

  // A generation's key: what the provider is asked, and the repository's token.
  static std::string key_of(const std::string& provider, const std::string& model,
                            const std::vector<core::chat_message>& prompt,
                            const std::string& token);

  // What a generation with `key` does: replay `hit`; or follow `flight` (lead false); or
  // lead `flight`, a new one, and finish or abandon it. Nothing set: the cache is off.
  struct lookup {
    std::shared_ptr<const cached_answer> hit;
    std::shared_ptr<answer_flight> flight;
    bool lead = false;
  };
  lookup find(const std::string& key, clock::time_point now = clock::now());

  bool enabled() const { return enabled_; }

  // For /metrics.
  std::atomic<std::int64_t> hits{0};
  std::atomic<std::int64_t> misses{0};
  std::atomic<std::int64_t> shared{0};  // followers of a flight
  std::atomic<std::int64_t> stores{0};
  std::atomic<std::int64_t> evictions{0};  // dropped for room
  std::atomic<std::int64_t> expired{0};    // dropped past ttl_s
  std::int64_t bytes() const;
  std::int64_t entries() const;

 private:
  friend class answer_flight;
  // `flight` is over: it leaves the flights; `answer` (may be null) is kept under its key.
  void landed(const std::string& key, const answer_flight* flight,
              std::shared_ptr<const cached_answer> answer);

  const bool enabled_;
  const std::size_t max_bytes_;
  const std::chrono::seconds ttl_;
  mutable std::mutex mutex_;
  struct entry {
    std::shared_ptr<const cached_answer> answer;
    clock::time_point expires;
    std::list<std::string>::iterator lru;  // in lru_, most recently used first
  };
  std::unordered_map<std::string, entry> entries_;
  // Forgets a kept answer (with mutex_ held).
  void drop(std::unordered_map<std::string, entry>::iterator it);
  std::list<std::string> lru_;
  std::size_t bytes_ = 0;
  clock::time_point next_sweep_{};
  std::unordered_map<std::string, std::shared_ptr<answer_flight>> flights_;
};

}  // namespace askd::actors
