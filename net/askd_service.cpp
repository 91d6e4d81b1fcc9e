#include "net/askd_service.hpp"

#include <chrono>

#include "core/chat_request.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "net/compat_face.hpp"
#include "rag/repo_source.hpp"

namespace askd::net {
namespace {

constexpr const char* json_type = "application/json";

header_list cors() {
  return {{"Access-Control-Allow-Origin", "*"}};
}

// One line per refused request, so a 400 at 3 a.m. can be explained.
void log_refusal(actors::engine& engine, const std::string& id, const request& req, int status,
                 std::string_view detail) {
  engine.metrics().refused[actors::refusal_slot(status)]++;
  core::log_info("refused")
      .kv("id", id)
      .kv("method", req.method)
      .kv("path", req.path)
      .kv("peer", req.peer)
      .kv("status", status)
      .kv("detail", detail);
}

std::string build_models_json(const core::config& cfg) {
  std::string j = "{\"providers\":[";
  bool first = true;
  for (const auto& p : cfg.generator.providers) {
    if (!first) j += ',';
    first = false;
    j += "{\"id\":" + core::json::quote(p.id) + ",\"name\":" + core::json::quote(p.name) +
         ",\"supportsCustomModel\":" + (p.supports_custom_model ? "true" : "false") +
         ",\"models\":[";
    for (std::size_t i = 0; i < p.models.size(); ++i) {
      if (i) j += ',';
      j += "{\"id\":" + core::json::quote(p.models[i].id) +
           ",\"name\":" + core::json::quote(p.models[i].id) + "}";
    }
    j += "]}";
  }
  j += "],\"defaultProvider\":" + core::json::quote(cfg.generator.default_provider) + "}";
  return j;
}

// Everything checked before any work: the request itself, room at its provider, then
// where its repository is.
core::result<std::pair<core::chat_request, rag::repo_source>> admit(std::string_view body,
                                                                    const core::config& cfg,
                                                                    actors::engine& engine) {
  auto req = core::parse_chat_request(body, cfg);
  if (!req) return req.err();
  if (auto full = engine.precheck(req->provider)) return *full;
  auto source = rag::locate_repo(*req, cfg);
  if (!source) return source.err();
  if (!rag::is_inside_path(req->file_path))
    return core::error::make(
        core::error_code::bad_request,
        "filePath: " + req->file_path + " is not a path inside the repository");
  return std::make_pair(std::move(*req), std::move(*source));
}

// The deepwiki WebSocket: the first text frame is the request; later frames are ignored.
std::string rate_refusal(const core::config& cfg, std::int64_t wait_ms) {
  return "Too many requests from this client (limits.client_rate is " +
         core::json::format_number(cfg.limits.client_rate) + " per second); retry in " +
         std::to_string((wait_ms + 999) / 1000) + " s";
}

class compat_ws_handler : public websocket_handler {
 public:
  compat_ws_handler(std::shared_ptr<askd_service> service, std::shared_ptr<websocket> ws,
                    request upgrade, bool draining)
      : service_(std::move(service)),
        cfg_(service_->config()),
        engine_(service_->engine()),
        ws_(std::move(ws)),
        upgrade_(std::move(upgrade)),
        draining_(draining) {}

  void on_text(std::string message) override {
    if (started_) return;
    started_ = true;
    auto id = core::new_request_id();
    if (draining_) return refuse(id, 503, "Server is shutting down; retry shortly");
    if (auto wait = service_->rate_wait_ms(upgrade_))
      return refuse(id, 429, rate_refusal(cfg_, wait));
    auto admitted = admit(message, cfg_, engine_);
    if (!admitted)
      return refuse(id, core::http_status(admitted.err().code), admitted.err().message);
    attachment_ = engine_.start_chat(std::move(admitted->first), std::move(admitted->second), id,
                                     std::make_shared<compat_ws_port>(ws_));
  }

  void on_closed() override {
    attachment_.client_gone();
    ws_.reset();
  }

 private:
  void refuse(const std::string& id, int status, const std::string& detail) {
    log_refusal(engine_, id, upgrade_, status, detail);
    ws_->send("Error: " + detail);
    ws_->close(1000);
  }

  std::shared_ptr<askd_service> service_;
  const core::config& cfg_;
  actors::engine& engine_;
  std::shared_ptr<websocket> ws_;
  request upgrade_;
  bool draining_;
  bool started_ = false;
  actors::attachment attachment_;
};

}  // namespace

void send_detail(response& res, int status, std::string_view detail, header_list extra) {
  auto h = cors();
  for (auto& e : extra) h.push_back(std::move(e));
  res.send(status, json_type, "{\"detail\":" + core::json::quote(detail) + "}", std::move(h));
}

void send_refusal(response& res, core::error_code code, std::string_view detail,
                  std::int64_t retry_after_ms, const std::string& request_id) {
  header_list extra{{"X-Request-Id", request_id}};
  if (retry_after_ms >= 0)
    extra.emplace_back("Retry-After", std::to_string((retry_after_ms + 999) / 1000));
  send_detail(res, core::http_status(code), detail, std::move(extra));
}

// The API, as PROTOCOL.md lists it. /ws/chat is served by upgrade() below.
const askd_service::route askd_service::routes[] = {
    {"GET", "/health", &askd_service::health},
    {"GET", "/models/config", &askd_service::models_config},
    {"GET", "/lang/config", &askd_service::lang_config},
    {"GET", "/metrics", &askd_service::metrics},
    {"POST", "/chat/completions/stream", &askd_service::compat_chat},
    {"POST", "/api/chat/stream", &askd_service::compat_chat},
};

askd_service::askd_service(const core::config& cfg, actors::engine& engine)
    : cfg_(cfg),
      engine_(engine),
      rate_(cfg.limits.client_rate, cfg.limits.client_burst),
      models_json_(build_models_json(cfg)) {}

std::int64_t askd_service::rate_wait_ms(const request& req) {
  if (!rate_.enabled()) return 0;
  // A client is its API key when it sends one, else its address (without the port).
  std::string key(req.header("authorization"));
  if (key.empty()) key = req.header("x-api-key");
  if (key.empty()) key = "addr:" + req.peer.substr(0, req.peer.rfind(':'));
  std::lock_guard lock(rate_mu_);
  return rate_.take(key, std::chrono::steady_clock::now());
}

void askd_service::handle(request req, std::shared_ptr<response> res) {
  std::string allow;
  for (const auto& r : routes) {
    if (req.path != r.path) continue;
    if (req.method == r.method) return (this->*r.fn)(req, res);
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
  }
  if (req.path == "/ws/chat") allow = "GET";
  if (allow.empty()) {
    log_refusal(engine_, "-", req, 404, "Not Found");
    return send_detail(*res, 404, "Not Found");
  }
  if (req.method == "OPTIONS") {  // CORS preflight, as deepwiki's FastAPI middleware allows
    return res->send(204, "text/plain", "",
                     {{"Access-Control-Allow-Origin", "*"},
                      {"Access-Control-Allow-Methods", allow + ", OPTIONS"},
                      {"Access-Control-Allow-Headers", "*"},
                      {"Access-Control-Max-Age", "600"}});
  }
  if (req.path == "/ws/chat" && req.method == "GET")
    return send_detail(*res, 426, "This endpoint speaks WebSocket only",
                       {{"Upgrade", "websocket"}});
  log_refusal(engine_, "-", req, 405, "Method Not Allowed");
  send_detail(*res, 405, "Method Not Allowed", {{"Allow", allow}});
}

upgrade_decision askd_service::upgrade(const request& req) {
  upgrade_decision d;
  if (req.path != "/ws/chat") return d;  // 404
  // The compat socket takes no subprotocol; v1 arrives with "askd.v1".
  d.accept = [self = shared_from_this(),
              req](std::shared_ptr<websocket> ws) -> std::shared_ptr<websocket_handler> {
    auto draining = self->draining_.load();
    return std::make_shared<compat_ws_handler>(std::move(self), std::move(ws), req, draining);
  };
  return d;
}

void askd_service::health(const request&, const std::shared_ptr<response>& res) {
  // A load balancer takes a draining node out of rotation on the 503.
  bool draining = draining_;
  res->send(
      draining ? 503 : 200, json_type,
      std::string("{\"status\":\"") + (draining ? "draining" : "healthy") +
          "\",\"timestamp\":" + core::json::quote(core::iso8601(std::chrono::system_clock::now())) +
          ",\"service\":\"askd\"}",
      cors());
}

void askd_service::models_config(const request&, const std::shared_ptr<response>& res) {
  res->send(200, json_type, models_json_, cors());
}

void askd_service::lang_config(const request&, const std::shared_ptr<response>& res) {
  res->send(200, json_type, cfg_.languages.json, cors());
}

// Prometheus text format, version 0.0.4.
void askd_service::metrics(const request&, const std::shared_ptr<response>& res) {
  const auto& ctx = engine_.context();
  const auto& m = ctx.metrics;
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto line = [&](const std::string& name, std::int64_t v) {
    out += name + " " + std::to_string(v) + "\n";
  };
  metric("askd_requests_total", "counter", "Chat requests by outcome.");
  line("askd_requests_total{outcome=\"ok\"}", m.requests_ok);
  line("askd_requests_total{outcome=\"failed\"}", m.requests_failed);
  line("askd_requests_total{outcome=\"cancelled\"}", m.requests_cancelled);
  metric("askd_refused_total", "counter", "Requests refused before any work, by HTTP status.");
  for (std::size_t i = 0; i < std::size(actors::refusal_statuses); ++i) {
    auto status = actors::refusal_statuses[i];
    line("askd_refused_total{status=\"" + (status ? std::to_string(status) : std::string("other")) +
             "\"}",
         m.refused[i]);
  }
  metric("askd_provider_attempts_total", "counter", "Provider calls started, retries included.");
  line("askd_provider_attempts_total", m.attempts);
  metric("askd_retries_total", "counter", "Provider calls retried, by failure class.");
  for (auto code : {core::error_code::timeout, core::error_code::upstream,
                    core::error_code::rate_limited, core::error_code::context_length}) {
    line(std::string("askd_retries_total{class=\"") + std::string(core::wire_name(code)) + "\"}",
         m.retries[static_cast<std::size_t>(code) % 16]);
  }
  metric("askd_fallbacks_total", "counter", "Hand-overs to a fallback provider.");
  line("askd_fallbacks_total", m.fallbacks);
  metric("askd_continuations_total", "counter",
         "Answers continued by a new attempt after failing mid-answer.");
  line("askd_continuations_total", m.continuations);
  metric("askd_limiter_active", "gauge", "Slots in use, by limiter (provider:<id>, indexing).");
  for (const auto& l : ctx.limiters)
    line("askd_limiter_active{limiter=\"" + l.name + "\"}", l.active);
  metric("askd_limiter_queued", "gauge",
         "Admitted and waiting for a slot (retrieving, or queued), by limiter.");
  for (const auto& l : ctx.limiters)
    line("askd_limiter_queued{limiter=\"" + l.name + "\"}", l.queued);
  metric("askd_limiter_refused_total", "counter", "Refused because the limiter was full.");
  for (const auto& l : ctx.limiters)
    line("askd_limiter_refused_total{limiter=\"" + l.name + "\"}", l.refused);
  metric("askd_degradations_total", "counter",
         "Answers that gave something up (context, provider).");
  line("askd_degradations_total", m.degradations);
  metric("askd_actors", "gauge", "Live actors by kind.");
  line("askd_actors{kind=\"session\"}", ctx.census.sessions);
  line("askd_actors{kind=\"stream\"}", ctx.census.streams);
  line("askd_actors{kind=\"sink\"}", ctx.census.sinks);
  line("askd_actors{kind=\"call_supervisor\"}", ctx.census.supervisors);
  line("askd_actors{kind=\"provider_call\"}", ctx.census.provider_calls);
  metric("askd_upstream_transfers", "gauge", "Upstream HTTP transfers in flight.");
  line("askd_upstream_transfers", ctx.curl ? static_cast<std::int64_t>(ctx.curl->active()) : 0);
  res->send(200, "text/plain; version=0.0.4; charset=utf-8", std::move(out), cors());
}

void askd_service::compat_chat(const request& req, const std::shared_ptr<response>& res) {
  auto id = core::new_request_id();
  if (draining_) {
    log_refusal(engine_, id, req, 503, "draining");
    return send_detail(*res, 503, "Server is shutting down; retry shortly", {{"Retry-After", "5"}});
  }
  if (auto wait = rate_wait_ms(req)) {
    auto detail = rate_refusal(cfg_, wait);
    log_refusal(engine_, id, req, 429, detail);
    return send_detail(
        *res, 429, detail,
        {{"Retry-After", std::to_string((wait + 999) / 1000)}, {"X-Request-Id", id}});
  }
  auto admitted = admit(req.body, cfg_, engine_);
  if (!admitted) {
    const auto& err = admitted.err();
    log_refusal(engine_, id, req, core::http_status(err.code), err.message);
    return send_refusal(*res, err.code, err.message, err.retry_after_ms, id);
  }
  auto attachment = engine_.start_chat(std::move(admitted->first), std::move(admitted->second), id,
                                       std::make_shared<compat_http_port>(res, id));
  res->on_disconnect([attachment] { attachment.client_gone(); });
}

}  // namespace askd::net
