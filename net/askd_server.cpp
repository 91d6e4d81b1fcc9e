#include "net/askd_server.hpp"

#include <chrono>
#include <thread>

#include "actors/engine.hpp"
#include "core/log.hpp"
#include "net/askd_service.hpp"
#include "net/http_server.hpp"
#include "providers/curl_engine.hpp"

namespace askd::net {

// Declared in the order they start. stop() closes the server's connections first (they
// cancel their streams), then destroys the actors, then the curl engine that the
// actors' last acts still call, and the server last: until then a late event may still
// post a write to a connection's strand.
struct askd_server::parts {
  std::shared_ptr<actors::engine_context> context;
  std::unique_ptr<providers::curl_engine> curl;
  int io_threads = 1;
  std::unique_ptr<actors::engine> engine;
  std::shared_ptr<askd_service> service;
  std::unique_ptr<http_server> server;
  bool stopped = false;
};

askd_server::askd_server(core::config cfg) : parts_(std::make_unique<parts>()) {
  auto& p = *parts_;
  p.context = std::make_shared<actors::engine_context>();
  p.context->config = std::move(cfg);
  p.context->providers = std::make_shared<providers::provider_registry>(p.context->config);
  for (const auto& e : p.context->config.embedders.embedders)
    p.context->embedders[e.id] =
        std::make_shared<const providers::embedder>(e, p.context->config.upstream);
  p.context->embed_limit =
      std::make_unique<std::counting_semaphore<>>(p.context->config.embedders.max_concurrent);
  // Upstream threads: engine.curl_threads, or three per four cores (they relay the deltas,
  // ~80% of the work of a stream: bench/RESULTS.md, capacity model).
  auto curl_threads = p.context->config.engine.curl_threads;
  if (curl_threads <= 0)
    curl_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency() * 3 / 4));
  p.curl = std::make_unique<providers::curl_engine>(
      static_cast<unsigned>(curl_threads),
      static_cast<std::size_t>(p.context->config.upstream.idle_connections),
      p.context->config.upstream.cafile);
  p.context->curl = p.curl.get();
  p.engine = std::make_unique<actors::engine>(p.context);
  const auto& c = p.context->config;
  p.service = std::make_shared<askd_service>(c, *p.engine);
  server_limits limits;
  limits.max_body_bytes = c.server.max_body_bytes;
  limits.body_budget_bytes = c.server.body_budget_bytes;
  limits.max_connections = c.server.max_connections;
  limits.write_queue_bytes = c.server.write_queue_bytes;
  limits.header_timeout = std::chrono::milliseconds(c.server.header_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(c.server.idle_timeout_ms);
  limits.ws_idle_timeout = std::chrono::milliseconds(c.server.ws_idle_timeout_ms);
  // io threads: server.io_threads, or one per four cores (requests are read, parsed and
  // admitted there: bench/RESULTS.md, capacity model).
  auto io_threads = c.server.io_threads;
  if (io_threads <= 0)
    io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 4));
  p.io_threads = io_threads;
  p.server = std::make_unique<http_server>(p.service, limits, io_threads);
  p.service->count_connections_with([server = p.server.get()] { return server->connections(); });
}

askd_server::~askd_server() {
  stop();
}

std::uint16_t askd_server::start() {
  const auto& c = parts_->context->config;
  auto port = parts_->server->listen(c.server.host, c.server.port);
  parts_->server->run();
  return port;
}

void askd_server::stop() {
  auto& p = *parts_;
  if (p.stopped) return;
  p.stopped = true;
  p.server->stop_accepting();
  p.service->set_draining(true);
  auto grace = std::chrono::milliseconds(p.context->config.server.shutdown_grace_ms);
  auto until = std::chrono::steady_clock::now() + grace;
  if (p.context->census.streams > 0)
    core::log_info("draining")
        .kv("streams", p.context->census.streams.load())
        .kv("grace_ms", static_cast<std::int64_t>(grace.count()));
  while (p.context->census.streams > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  p.server->stop();
  // The engine (its actors) and the curl thread may still publish to connections'
  // ports: they go first, while the server's io_context (stopped) still exists.
  p.engine.reset();
  p.curl.reset();
  p.server.reset();
}

bool askd_server::draining() const {
  return parts_->service && parts_->service->draining();
}
const core::config& askd_server::config() const {
  return parts_->context->config;
}
const actors::actor_census& askd_server::census() const {
  return parts_->context->census;
}
std::int64_t askd_server::limiter_occupancy() const {
  std::int64_t n = 0;
  for (const auto& l : parts_->context->limiters) n += l.active + l.queued;
  return n;
}
std::size_t askd_server::connections() const {
  return parts_->server ? parts_->server->connections() : 0;
}
std::size_t askd_server::upstream_calls() const {
  return parts_->curl ? parts_->curl->active() : 0;
}

int askd_server::io_threads() const { return parts_->io_threads; }

std::size_t askd_server::upstream_threads() const {
  return parts_->curl ? parts_->curl->threads() : 0;
}

}  // namespace askd::net
