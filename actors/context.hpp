// actors/context.hpp — what every actor of the engine shares, read-only after start,
// plus live counts of each actor kind (for /metrics and for tests that check a
// request left nothing behind). No CAF here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>

#include "actors/answer_cache.hpp"
#include "core/cluster_view.hpp"
#include "core/config.hpp"
#include "core/slot_table.hpp"
#include "providers/curl_engine.hpp"
#include "providers/embedder.hpp"
#include "providers/provider.hpp"

namespace askd::actors {

struct actor_census {
  std::atomic<std::int64_t> sessions{0};
  std::atomic<std::int64_t> streams{0};  // stream actors, and compat sessions (their stream)
  std::atomic<std::int64_t> sinks{0};
  std::atomic<std::int64_t> provider_calls{0};
  std::atomic<std::int64_t> supervisors{0};
  std::atomic<std::int64_t> rounds{0};    // actors/round.hpp: one per research round
  std::atomic<std::int64_t> research{0};  // actors/research.hpp: one per server-driven research
  // Streams past their end, kept for resuming (streams.linger_s): not work in flight,
  // so not in total().
  std::atomic<std::int64_t> lingering{0};

  std::int64_t total() const {
    return sessions + streams + sinks + provider_calls + supervisors + rounds + research;
  }
};

// Counters since start, for GET /metrics. Each is exact; a scrape reads each on its own.
struct engine_metrics {
  std::atomic<std::int64_t> requests_ok{0};
  std::atomic<std::int64_t> requests_failed{0};
  std::atomic<std::int64_t> requests_cancelled{0};
  std::atomic<std::int64_t> attempts{0};                // provider calls started, retries included
  std::array<std::atomic<std::int64_t>, 16> retries{};  // by core::error_code
  std::atomic<std::int64_t> fallbacks{0};
  std::atomic<std::int64_t> degradations{0};
  std::atomic<std::int64_t> continuations{0};   // answers resumed after a failure mid-answer
  std::atomic<std::int64_t> index_builds{0};    // fetch + index jobs started (reopening included)
  std::atomic<std::int64_t> remote_watches{0};  // clients here watching another node's stream
  std::atomic<std::int64_t> remote_retrievals{0};  // searches sent to a repository's owner node
  // Failover (actors/replication.hpp): what this node sent its streams' replicas, and
  // what it did as a replica.
  std::atomic<std::int64_t> replica_batches{0};
  std::atomic<std::int64_t> replica_events{0};
  std::atomic<std::int64_t> replica_bytes{0};
  std::atomic<std::int64_t> replicas_moved{0};  // a lost replica replaced by another node
  std::atomic<std::int64_t> fenced{0};          // streams this node stopped serving
  std::atomic<std::int64_t> takeovers{0};       // streams taken over from a lost node
  std::atomic<std::int64_t> replicas_held{0};   // copies held for other nodes now
  // What group commit adds to an event: from its publishing to its release to clients
  // (the replica's acknowledgement), in buckets of replica_commit_bounds_us.
  std::array<std::atomic<std::int64_t>, 22> replica_commit_us{};
  std::atomic<std::int64_t> replica_commit_sum_us{0};
  std::array<std::atomic<std::int64_t>, 7> refused{};  // by refusal_slot(status)
};

// The upper bounds (µs) of the replica commit buckets, √2 apart; the last is +Inf.
inline constexpr std::int64_t replica_commit_bounds_us[] = {
    25,   35,   50,   71,   100,  141,  200,  283,   400,   566,   800,
    1131, 1600, 2263, 3200, 4525, 6400, 9051, 12800, 25600, 51200, -1};
inline std::size_t replica_commit_bucket(std::int64_t us) {
  std::size_t i = 0;
  while (replica_commit_bounds_us[i] >= 0 && us > replica_commit_bounds_us[i]) ++i;
  return i;
}

// The refusal statuses /metrics reports, in order; other statuses count as the last.
inline constexpr int refusal_statuses[] = {400, 403, 404, 405, 429, 503, 0};
inline std::size_t refusal_slot(int status) {
  for (std::size_t i = 0; i + 1 < std::size(refusal_statuses); ++i)
    if (refusal_statuses[i] == status) return i;
  return std::size(refusal_statuses) - 1;
}

// One limiter's occupancy, for /metrics and engine::precheck (read without a lock), and a
// provider limiter's table (actors/limiter.hpp). The table is shared by the limiter actor
// and its holders' threads: a place, a free slot when nobody waits, and a slot or place
// given back are decided under `lock` where they are asked for, with no message; the
// actor keeps the claims that wait and answers them. The indexing limit keeps its table
// in the repo registry and uses only the gauges.
struct limiter_gauges {
  explicit limiter_gauges(std::string n) : name(std::move(n)) {}
  std::string name;  // "provider:openai", "indexing"
  std::atomic<std::int64_t> active{0};
  std::atomic<std::int64_t> queued{0};
  std::atomic<std::int64_t> refused{0};
  // Slots this node may use now: its share of max_concurrent in a cluster; -1 = the
  // configured limit (a single node).
  std::atomic<std::int64_t> capacity{-1};

  std::mutex lock;
  core::slot_table<std::uint64_t> table{1, 0};  // holders by actor id
  core::provider_limit limit;
  // The limiter actor's id while it runs (0 before and after): how a handle finds its
  // table, and whether decisions may still be taken here.
  std::atomic<std::uint64_t> actor{0};
};

struct engine_context {
  core::config config;
  // The cluster as this node sees it (a single node: itself). Made with the context.
  std::shared_ptr<core::cluster_view> cluster;
  // This node's part of limits.client_rate (1 on a single node).
  std::atomic<double> client_rate_share{1.0};
  std::shared_ptr<const providers::provider_registry> providers;
  providers::curl_engine* curl = nullptr;
  actor_census census;
  engine_metrics metrics;
  std::atomic<bool> stopping{false};
  // Made before the limiters start, one per limiter; a deque, so addresses stay put.
  std::deque<limiter_gauges> limiters;
  // The embedders of conf/embedder.json, made at start; and their limit on requests in
  // flight (embedder.max_concurrent), shared by every repository's searches.
  std::map<std::string, std::shared_ptr<const providers::embedder>> embedders;
  std::unique_ptr<std::counting_semaphore<>> embed_limit;
  // Answers given again (actors/answer_cache.hpp): made by the engine from
  // config.answer_cache when not set; none (a test's context): every question goes upstream.
  std::shared_ptr<answer_cache> answers;
  std::atomic<std::int64_t> queued_requests{
      0};  // all providers: for limits.max_queued_requests  // set at shutdown: long jobs (index
           // builds) give up
};

// An actor counted in one of the census's gauges for as long as its state lives. CAF
// destroys a stateful actor's state as the actor exits (before its attached functors
// run), so the count needs no functor attached to the actor: one allocation fewer per
// actor (bench/RESULTS.md, sixth pass).
class census_count {
 public:
  using gauge = std::atomic<std::int64_t> actor_census::*;
  census_count() = default;
  census_count(const census_count&) = delete;
  census_count& operator=(const census_count&) = delete;
  ~census_count() { stop(); }
  void start(std::shared_ptr<engine_context> context, gauge which) {
    stop();
    context_ = std::move(context);
    which_ = which;
    (context_->census.*which_)++;
  }
  // Counted in another gauge from now on (a stream that lingers).
  void move_to(gauge which) {
    (context_->census.*which_)--;
    (context_->census.*(which_ = which))++;
  }

 private:
  void stop() {
    if (context_) (context_->census.*which_)--;
    context_.reset();
  }
  std::shared_ptr<engine_context> context_;
  gauge which_ = nullptr;
};

}  // namespace askd::actors
