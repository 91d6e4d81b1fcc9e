// actors/context.hpp — what every actor of the engine shares, read-only after start,
// plus live counts of each actor kind (for /metrics and for tests that check a
// request left nothing behind). No CAF here.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/config.hpp"
#include "providers/curl_engine.hpp"
#include "providers/provider.hpp"

namespace askd::actors {

struct actor_census {
  std::atomic<std::int64_t> sessions{0};
  std::atomic<std::int64_t> streams{0};
  std::atomic<std::int64_t> sinks{0};
  std::atomic<std::int64_t> provider_calls{0};
  std::atomic<std::int64_t> supervisors{0};

  std::int64_t total() const { return sessions + streams + sinks + provider_calls + supervisors; }
};

struct engine_context {
  core::config config;
  std::shared_ptr<const providers::provider_registry> providers;
  providers::curl_engine* curl = nullptr;
  actor_census census;
  std::atomic<bool> stopping{false};  // set at shutdown: long jobs (index builds) give up
};

}  // namespace askd::actors
