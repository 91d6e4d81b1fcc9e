// net/askd_service.hpp — askd's routes: the table below is the API as PROTOCOL.md
// describes it. Requests are validated here, before any work; valid chats go to the
// engine with a port for their face.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actors/engine.hpp"
#include "core/config.hpp"
#include "core/net_address.hpp"
#include "core/rate_limit.hpp"
#include "net/blocking_pool.hpp"
#include "net/http_server.hpp"
#include "net/wiki_store.hpp"
#include "rag/repo_source.hpp"

namespace askd::net {

class askd_service : public service, public std::enable_shared_from_this<askd_service> {
 public:
  askd_service(const core::config& cfg, actors::engine& engine);

  void handle(request req, std::shared_ptr<response> res) override;
  upgrade_decision upgrade(const request& req) override;

  // New chats are refused with 503 while draining for shutdown.
  void set_draining(bool on) { draining_ = on; }
  bool draining() const { return draining_; }
  // The server's open connections, for /metrics: set once, before the server runs.
  void count_connections_with(std::function<std::size_t()> count) {
    connections_ = std::move(count);
  }

  // Who sent a chat, as admitting it needs: what its refusal's log line names, and the
  // client its rate is counted for (client_of; empty when limits.client_rate is off). A
  // WebSocket keeps this much of its upgrade request, and no more (most sit idle).
  struct caller {
    std::string_view method;
    std::string_view path;
    std::string_view peer;
    std::string client;
  };
  caller caller_of(const request& req) const;

  // Per-client request rate (limits.client_rate): the milliseconds until `req`'s client
  // may send again, 0 when it may now (the request is counted).
  std::int64_t rate_wait_ms(const request& req);
  std::int64_t rate_wait_for(const std::string& client);  // the same, by client_of's name

  // Whom a request is counted for: its API key when auth.api_keys checked one, else its
  // address ("addr:10.1.2.3", an IPv6 client by its /64), taken from X-Forwarded-For
  // only when the peer is one of server.trusted_proxies.
  std::string client_of(const request& req) const;

  // Why `req` may not call this server at all, if so: a loopback-bound askd named by a
  // non-loopback Host (DNS rebinding), or a browser Origin not in server.cors_origins and
  // not askd's own.
  std::optional<std::string> caller_refusal(const request& req) const;

  // The caller's API key: "" when auth.api_keys is empty, nullopt when it is set and the
  // request has none of them (401).
  std::optional<std::string> caller_key(const request& req) const;

  // What stands between a chat and the engine: draining (503), the client's rate (429),
  // the request itself (400), its provider's room (429), its repository (400/403). A
  // refusal is counted and logged here; the caller answers it in its face's way.
  struct admitted {
    std::shared_ptr<const core::chat_request> request;  // shared, never copied, from here on
    rag::repo_source source;
  };
  // `compat`: deepwiki-open's face, where an unsupported language falls back to the
  // default (logged) as deepwiki-open does; v1 refuses it.
  core::result<admitted> admit_chat(const caller& who, std::string_view body,
                                    const std::string& request_id, bool compat = false);
  const core::config& config() const { return cfg_; }
  // One line per refused request (and its count in /metrics), so a 400 at 3 a.m. can be
  // explained.
  void log_refusal(std::string_view id, const request& req, int status, std::string_view detail);
  void log_refusal(std::string_view id, const caller& who, int status, std::string_view detail);
  // log_refusal, then the detail sent as {"detail"} (a refusal with no request id).
  void refuse(const request& req, response& res, int status, std::string_view detail,
              header_list extra = {});
  actors::engine& engine() { return engine_; }

 private:
  using route_fn = void (askd_service::*)(const request&, const std::shared_ptr<response>&);
  // How a route's refusals are written: {"detail"} as deepwiki's FastAPI does, or
  // OpenAI's {"error": {...}}.
  enum class errors { detail, openai };
  struct route {
    const char* method;
    const char* path;  // a trailing * matches one more path segment
    route_fn fn;
    bool json_body;     // the body must be application/json (415 otherwise)
    bool open = false;  // answered without an API key
    errors style = errors::detail;
  };
  static const route routes[];

  void health(const request&, const std::shared_ptr<response>&);
  void web_page(const request&, const std::shared_ptr<response>&);
  void models_config(const request&, const std::shared_ptr<response>&);
  void metrics(const request&, const std::shared_ptr<response>&);
  void cluster(const request&, const std::shared_ptr<response>&);
  void lang_config(const request&, const std::shared_ptr<response>&);
  void compat_chat(const request&, const std::shared_ptr<response>&);
  void v1_chat(const request&, const std::shared_ptr<response>&);
  void v1_start(const request&, const std::shared_ptr<response>&);
  void v1_watch(const request&, const std::shared_ptr<response>&);
  void v1_cancel(const request&, const std::shared_ptr<response>&);
  void v1_repos(const request&, const std::shared_ptr<response>&);
  // deepwiki-open's frontend (net/wiki_face.cpp).
  void auth_status(const request&, const std::shared_ptr<response>&);
  void auth_validate(const request&, const std::shared_ptr<response>&);
  void local_structure(const request&, const std::shared_ptr<response>&);
  void wiki_cache_get(const request&, const std::shared_ptr<response>&);
  void wiki_cache_put(const request&, const std::shared_ptr<response>&);
  void wiki_cache_delete(const request&, const std::shared_ptr<response>&);
  void processed_projects(const request&, const std::shared_ptr<response>&);
  void export_wiki(const request&, const std::shared_ptr<response>&);
  // The OpenAI-compatible face (net/openai_face.cpp).
  void openai_chat(const request&, const std::shared_ptr<response>&);
  void openai_models(const request&, const std::shared_ptr<response>&);
  // Runs `job` on the blocking pool; answers 503 itself when the pool is full.
  void off_io(const request& req, const std::shared_ptr<response>& res, std::function<void()> job);
  bool origin_allowed(const request& req) const;
  // Whether `key` is one of auth.api_keys (each compared in constant time).
  bool key_matches(std::string_view key) const;
  std::string wiki_language(const std::string& code, const request& req) const;
  std::optional<wiki_key> wiki_query_key(const request& req, const std::shared_ptr<response>& res);

  const core::config& cfg_;
  actors::engine& engine_;
  std::mutex rate_mu_;
  core::rate_limiter rate_;  // guarded by rate_mu_: handlers run on many io threads
  std::string models_json_;  // built once: the providers never change while running
  std::atomic<bool> draining_{false};
  std::function<std::size_t()> connections_;
  bool loopback_only_;  // bound to loopback: only loopback Host names are answered
  std::vector<core::network> trusted_proxies_;
  wiki_store wiki_;
  // Declared last, so destroyed first: its destructor runs the jobs still queued, which
  // use the members above.
  blocking_pool blocking_{2, 256};
};

// {"detail": "..."} with a status, as deepwiki's FastAPI answers errors.
void send_detail(response& res, int status, std::string_view detail, header_list extra = {});

// A refusal's headers: its request id (when it has one) and Retry-After in whole
// seconds, rounded up (when it has one: retry_after_ms >= 0).
header_list refusal_headers(const std::string& request_id, std::int64_t retry_after_ms);

// OpenAI's error shape, {"error": {"message", "type", "param", "code"}}, with the type
// and code its SDKs expect for the status (net/openai_face.cpp).
void send_openai_error(response& res, int status, std::string_view message,
                       header_list extra = {});
// send_refusal's twin in OpenAI's shape.
void send_openai_refusal(response& res, core::error_code code, std::string_view message,
                         std::int64_t retry_after_ms, const std::string& request_id);

// A refusal before any stream: the detail with the status of the error's class,
// Retry-After (whole seconds, rounded up) when it has one, and the request id.
void send_refusal(response& res, core::error_code code, std::string_view detail,
                  std::int64_t retry_after_ms, const std::string& request_id);

}  // namespace askd::net
