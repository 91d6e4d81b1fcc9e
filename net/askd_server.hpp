// net/askd_server.hpp — askd assembled: curl engine, providers, actor engine, routes
// and the HTTP server, started and stopped in the right order. The askd binary and
// the end-to-end tests both run exactly this.
#pragma once

#include <cstdint>
#include <memory>

#include "actors/context.hpp"
#include "core/config.hpp"

namespace askd::net {

class askd_server {
 public:
  // Throws core::config_error when the providers cannot be built from `cfg`.
  explicit askd_server(core::config cfg);
  ~askd_server();  // stop()

  // Listens and starts serving; returns the bound port (cfg's port, or a free one for 0).
  std::uint16_t start();
  // Stops accepting, refuses new chats, lets streams finish for shutdown_grace_ms, then
  // closes every connection (cancelling what is left) and waits for the engine.
  void stop();

  // True from the moment stop() begins.
  bool draining() const;
  const core::config& config() const;
  const actors::actor_census& census() const;
  // Slots held and places taken in every limiter (providers, indexing): 0 when idle.
  std::int64_t limiter_occupancy() const;
  std::size_t connections() const;
  std::size_t upstream_calls() const;
  // Threads serving connections: server.io_threads, or its default.
  int io_threads() const;
  // Threads of the upstream (curl) engine: engine.curl_threads, or its default.
  std::size_t upstream_threads() const;

  struct parts;

 private:
  std::unique_ptr<parts> parts_;
};

}  // namespace askd::net
