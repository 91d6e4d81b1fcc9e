#include "net/askd_service.hpp"

#include <chrono>
#include <limits>

#include "core/chat_request.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/net_address.hpp"
#include "core/text.hpp"
#include "net/compat_face.hpp"
#include "net/v1_face.hpp"
#include "net/web_assets.hpp"
#include "rag/repo_source.hpp"

namespace askd::net {
namespace {

constexpr const char* json_type = "application/json";

// "application/json" or "application/json; charset=utf-8", in any case.
bool is_json(std::string_view content_type) {
  return core::iequals(core::trim_ascii(content_type.substr(0, content_type.find(';'))),
                       "application/json");
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

std::string rate_refusal(const core::config& cfg, std::int64_t wait_ms) {
  return "Too many requests from this client (limits.client_rate is " +
         core::json::format_number(cfg.limits.client_rate) + " per second); retry in " +
         std::to_string((wait_ms + 999) / 1000) + " s";
}

// What a WebSocket keeps of its upgrade request to admit its chats: its peer and its
// client (askd_service::caller), not the request: most sockets sit idle (bench/RESULTS.md,
// memory per idle WebSocket).
struct socket_caller {
  std::string peer;
  std::string client;
  askd_service::caller who() const { return {"GET", "/ws/chat", peer, client}; }
};

// The deepwiki WebSocket: the first text frame is the request; later frames are ignored.
class compat_ws_handler : public websocket_handler {
 public:
  compat_ws_handler(std::shared_ptr<askd_service> service, std::shared_ptr<websocket> ws,
                    socket_caller from)
      : service_(std::move(service)), ws_(std::move(ws)), from_(std::move(from)) {}

  void on_text(std::string message) override {
    if (started_) return;
    started_ = true;
    auto id = core::new_request_id();
    auto admitted = service_->admit_chat(from_.who(), message, id, true);
    if (!admitted) {
      ws_->send("Error: " + admitted.err().message);
      return ws_->close(1000);
    }
    attachment_ =
        service_->engine().start_chat(std::move(admitted->request), std::move(admitted->source), id,
                                      std::make_shared<compat_ws_port>(ws_));
  }

  void on_closed() override {
    attachment_.client_gone();
    ws_.reset();
  }

 private:
  std::shared_ptr<askd_service> service_;
  std::shared_ptr<websocket> ws_;
  socket_caller from_;
  bool started_ = false;
  actors::attachment attachment_;
};

// A WebSocket with subprotocol askd.v1: many chats, resumes and cancels on one socket,
// each stream's events as JSON frames.
class v1_ws_handler : public websocket_handler {
 public:
  v1_ws_handler(std::shared_ptr<askd_service> service, std::shared_ptr<websocket> ws,
                socket_caller from, std::string owner)
      : service_(std::move(service)),
        engine_(service_->engine()),
        ws_(std::move(ws)),
        from_(std::move(from)),
        owner_(std::move(owner)) {}

  void on_text(std::string message) override {
    rapidjson::Document doc;
    std::string type, client_id;
    try {
      core::json::parse(message, doc);
      core::json::object_reader frame(doc, "");
      type = frame.required_string("type");
      client_id = frame.string_or("id", "");
      if (type == "chat") {
        const auto* body = frame.object("request");
        if (!body) throw core::json::field_error("request", "an object", "nothing");
        return chat(core::json::write(*body), client_id);
      }
      if (type != "resume" && type != "cancel")
        throw core::json::field_error("type", "chat, resume or cancel", core::json::quote(type));
      auto stream_id = frame.required_string("stream_id");
      if (type == "resume") {
        auto after = frame.integer("after", 0, std::numeric_limits<std::int64_t>::max());
        return resume(stream_id, static_cast<std::uint64_t>(after.value_or(0)), client_id);
      }
      if (type == "cancel") {
        engine_.cancel(stream_id, owner_, [ws = ws_, client_id, stream_id](bool found) {
          if (!found) refuse(*ws, client_id, no_stream(stream_id));
        });
      }
    } catch (const std::exception& e) {
      refuse(client_id, core::error::make(core::error_code::bad_request, e.what()));
    }
  }

  void on_closed() override {
    for (auto& [port, a] : streams_) a.client_gone();
    streams_.clear();
    ws_.reset();
  }

 private:
  void chat(const std::string& body, const std::string& client_id) {
    auto id = core::new_request_id();
    auto admitted = service_->admit_chat(from_.who(), body, id);
    if (!admitted) return refuse(client_id, admitted.err());
    auto stream_id = engine_.new_stream_id();
    auto port = std::make_shared<ws_v1_port>(ws_, stream_id, client_id, queue_bytes());
    keep(port, engine_.start_chat(std::move(admitted->request), std::move(admitted->source), id,
                                  port, actors::chat_kind::v1, owner_, stream_id));
  }

  void resume(const std::string& stream_id, std::uint64_t after, const std::string& client_id) {
    auto port = std::make_shared<ws_v1_port>(ws_, stream_id, client_id, queue_bytes());
    port->when_missing([ws = ws_, client_id, stream_id] {
      refuse(*ws, client_id, no_stream(stream_id));
    });
    auto a = engine_.attach(stream_id, owner_, after, port);
    if (a) keep(port, std::move(a));
  }

  // Streams watched on this socket; those that ended are forgotten as new ones come.
  void keep(const std::shared_ptr<ws_v1_port>& port, actors::attachment a) {
    std::erase_if(streams_, [](const auto& e) { return e.first->over(); });
    streams_.emplace_back(port, std::move(a));
  }

  std::size_t queue_bytes() const { return service_->config().server.write_queue_bytes; }

  void refuse(const std::string& client_id, const core::error& err) {
    refuse(*ws_, client_id, err);
  }
  static void refuse(websocket& ws, const std::string& client_id, const core::error& err) {
    ws.send(ws_v1_frame("error", "", 0, core::make_error(err).data, client_id));
  }
  static core::error no_stream(const std::string& stream_id) {
    return core::error::make(core::error_code::bad_request,
                             "no stream " + stream_id + " (unknown or expired)");
  }

  std::shared_ptr<askd_service> service_;
  actors::engine& engine_;
  std::shared_ptr<websocket> ws_;
  socket_caller from_;
  std::string owner_;
  std::vector<std::pair<std::shared_ptr<ws_v1_port>, actors::attachment>> streams_;
};

}  // namespace

// One line per refused request, so a 400 at 3 a.m. can be explained.
void askd_service::log_refusal(std::string_view id, const caller& who, int status,
                               std::string_view detail) {
  engine_.metrics().refused[actors::refusal_slot(status)]++;
  core::log_info("refused")
      .kv("id", id)
      .kv("method", who.method)
      .kv("path", who.path)
      .kv("peer", who.peer)
      .kv("status", status)
      .kv("detail", detail);
}
void askd_service::log_refusal(std::string_view id, const request& req, int status,
                               std::string_view detail) {
  log_refusal(id, caller{req.method, req.path, req.peer, {}}, status, detail);
}

void send_detail(response& res, int status, std::string_view detail, header_list extra) {
  res.send(status, json_type, "{\"detail\":" + core::json::quote(detail) + "}", std::move(extra));
}

header_list refusal_headers(const std::string& request_id, std::int64_t retry_after_ms) {
  header_list h;
  if (!request_id.empty()) h.emplace_back("X-Request-Id", request_id);
  if (retry_after_ms >= 0)
    h.emplace_back("Retry-After", std::to_string((retry_after_ms + 999) / 1000));
  return h;
}

void askd_service::refuse(const request& req, response& res, int status, std::string_view detail,
                          header_list extra) {
  log_refusal("-", req, status, detail);
  send_detail(res, status, detail, std::move(extra));
}

void send_refusal(response& res, core::error_code code, std::string_view detail,
                  std::int64_t retry_after_ms, const std::string& request_id) {
  send_detail(res, core::http_status(code), detail, refusal_headers(request_id, retry_after_ms));
}

// The API, as PROTOCOL.md lists it. /ws/chat is served by upgrade() below.
// Open routes hold no data: the page, the health check, and deepwiki-open's auth check.
const askd_service::route askd_service::routes[] = {
    {"GET", "/", &askd_service::web_page, false, true},
    {"GET", "/web/*", &askd_service::web_page, false, true},
    {"GET", "/health", &askd_service::health, false, true},
    {"GET", "/auth/status", &askd_service::auth_status, false, true},
    {"POST", "/auth/validate", &askd_service::auth_validate, true, true},
    {"GET", "/models/config", &askd_service::models_config, false},
    {"GET", "/lang/config", &askd_service::lang_config, false},
    {"GET", "/metrics", &askd_service::metrics, false},
    {"GET", "/v1/cluster", &askd_service::cluster, false},
    {"POST", "/chat/completions/stream", &askd_service::compat_chat, true},
    {"POST", "/api/chat/stream", &askd_service::compat_chat, true},
    {"POST", "/v1/chat/stream", &askd_service::v1_chat, true},
    {"POST", "/v1/streams", &askd_service::v1_start, true},
    {"GET", "/v1/streams/*", &askd_service::v1_watch, false},
    {"DELETE", "/v1/streams/*", &askd_service::v1_cancel, false},
    {"GET", "/v1/repos", &askd_service::v1_repos, false},
    {"GET", "/local_repo/structure", &askd_service::local_structure, false},
    {"GET", "/api/wiki_cache", &askd_service::wiki_cache_get, false},
    {"POST", "/api/wiki_cache", &askd_service::wiki_cache_put, true},
    {"DELETE", "/api/wiki_cache", &askd_service::wiki_cache_delete, false},
    {"GET", "/api/processed_projects", &askd_service::processed_projects, false},
    {"POST", "/export/wiki", &askd_service::export_wiki, true},
    {"POST", "/v1/chat/completions", &askd_service::openai_chat, true, false, errors::openai},
    {"GET", "/v1/models", &askd_service::openai_models, false, false, errors::openai},
};

namespace {

// "/v1/streams/*" matches "/v1/streams/<one segment>".
bool route_matches(std::string_view pattern, std::string_view path) {
  if (pattern.empty() || pattern.back() != '*') return pattern == path;
  auto prefix = pattern.substr(0, pattern.size() - 1);
  return path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
         path.find('/', prefix.size()) == std::string_view::npos;
}

// The last path segment: a stream id.
std::string last_segment(std::string_view path) {
  return std::string(path.substr(path.rfind('/') + 1));
}

}  // namespace

askd_service::askd_service(const core::config& cfg, actors::engine& engine)
    : cfg_(cfg),
      engine_(engine),
      rate_(cfg.limits.client_rate, cfg.limits.client_burst),
      models_json_(build_models_json(cfg)),
      loopback_only_(core::is_loopback_host(cfg.server.host)),
      wiki_(cfg.data_dir + "/wikicache", cfg.wiki_cache.max_entries,
            cfg.wiki_cache.max_mb << 20) {
  for (const auto& p : cfg.server.trusted_proxies) trusted_proxies_.push_back(*core::parse_network(p));
}

std::string askd_service::client_of(const request& req) const {
  // Only a key askd checked names a client: any other header is the client's to change.
  if (!cfg_.auth.api_keys.empty())
    if (auto key = caller_key(req); key && !key->empty()) return "key:" + *key;
  auto address = std::string(core::address_of_peer(req.peer));
  auto trusted = [&](std::string_view a) {
    auto ip = core::parse_ip(a);
    if (!ip) return false;
    for (const auto& n : trusted_proxies_)
      if (core::contains(n, *ip)) return true;
    return false;
  };
  // Behind a proxy askd trusts, the client is the last hop of X-Forwarded-For that is not
  // one of its proxies (the proxies append; what the client wrote itself comes first).
  if (trusted(address)) {
    auto xff = req.header("x-forwarded-for");
    while (!xff.empty()) {
      auto comma = xff.rfind(',');
      auto hop = core::trim_ascii(xff.substr(comma == std::string_view::npos ? 0 : comma + 1));
      if (!hop.empty()) {
        address = std::string(hop);
        if (!trusted(hop)) break;
      }
      if (comma == std::string_view::npos) break;
      xff = xff.substr(0, comma);
    }
  }
  // An IPv6 client owns at least a /64: counted by it, or it would rotate addresses.
  if (auto ip = core::parse_ip(address); ip && address.find(':') != std::string::npos) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", (*ip)[0], (*ip)[1],
                  (*ip)[2], (*ip)[3], (*ip)[4], (*ip)[5], (*ip)[6], (*ip)[7]);
    address = buf;
  }
  return "addr:" + address;
}

askd_service::caller askd_service::caller_of(const request& req) const {
  return {req.method, req.path, req.peer, rate_.enabled() ? client_of(req) : std::string()};
}

std::int64_t askd_service::rate_wait_ms(const request& req) {
  return rate_.enabled() ? rate_wait_for(client_of(req)) : 0;
}

std::int64_t askd_service::rate_wait_for(const std::string& client) {
  if (!rate_.enabled()) return 0;
  std::lock_guard lock(rate_mu_);
  rate_.set_share(engine_.context().client_rate_share);
  return rate_.take(client, std::chrono::steady_clock::now());
}

bool askd_service::key_matches(std::string_view key) const {
  bool found = false;
  for (const auto& k : cfg_.auth.api_keys)  // every key compared, in constant time each
    found |= core::equal_in_constant_time(k, key);
  return found;
}

std::optional<std::string> askd_service::caller_key(const request& req) const {
  if (cfg_.auth.api_keys.empty()) return std::string();
  auto h = req.header("authorization");
  constexpr std::string_view bearer = "Bearer ";
  if (h.size() > bearer.size() && h.substr(0, bearer.size()) == bearer &&
      key_matches(h.substr(bearer.size())))
    return std::string(h.substr(bearer.size()));
  // deepwiki-open's frontend sends its "authorization code" (an askd API key here) as a
  // query parameter when it deletes a cached wiki, and no header.
  if (req.method == "DELETE" && req.path == "/api/wiki_cache")
    if (auto code = req.query_param("authorization_code"); !code.empty() && key_matches(code))
      return code;
  return std::nullopt;
}

core::result<askd_service::admitted> askd_service::admit_chat(const caller& who,
                                                              std::string_view body,
                                                              const std::string& id, bool compat) {
  auto refused = [&](core::error err) -> core::result<admitted> {
    log_refusal(id, who, core::http_status(err.code), err.message);
    return err;
  };
  if (draining_) {
    auto err = core::error::make(core::error_code::provider_unavailable,
                                 "Server is shutting down; retry shortly");
    err.retry_after_ms = 5000;
    return refused(std::move(err));
  }
  if (auto wait = rate_wait_for(who.client)) {
    auto err = core::error::make(core::error_code::rate_limited, rate_refusal(cfg_, wait));
    err.retry_after_ms = wait;
    return refused(std::move(err));
  }
  std::string replaced;
  core::parse_options options;
  options.language_fallback = compat;
  options.replaced_language = &replaced;
  auto req = core::parse_chat_request(body, cfg_, options);
  if (!req) return refused(req.err());
  if (!replaced.empty())
    core::log_info("language replaced")
        .kv("id", id)
        .kv("language", core::clip(replaced, 40))
        .kv("with", req->language);
  if (auto full = engine_.precheck(req->provider)) return refused(*full);
  auto source = rag::locate_repo(*req, cfg_);
  if (!source) return refused(source.err());
  if (!rag::is_inside_path(req->file_path))
    return refused(
        core::error::make(core::error_code::bad_request,
                          "filePath: " + req->file_path + " is not a path inside the repository"));
  return admitted{std::make_shared<const core::chat_request>(std::move(*req)), std::move(*source)};
}

bool askd_service::origin_allowed(const request& req) const {
  auto origin = req.header("origin");
  for (const auto& o : cfg_.server.cors_origins)
    if (o == "*" || core::iequals(o, origin)) return true;
  return core::same_origin(origin, req.header("host"));
}

std::optional<std::string> askd_service::caller_refusal(const request& req) const {
  auto host = req.header("host");
  if (loopback_only_ && !host.empty() && !core::is_loopback_host(host))
    return "Host " + core::json::quote(core::clip(host, 100)) +
           " is not a name of this server: it listens on loopback and answers only to "
           "localhost names (a page can make any name resolve to 127.0.0.1)";
  auto origin = req.header("origin");
  if (!origin.empty() && !origin_allowed(req))
    return "Origin " + core::json::quote(core::clip(origin, 100)) +
           " may not call this server (server.cors_origins)";
  return std::nullopt;
}

void askd_service::handle(request req, std::shared_ptr<response> res) {
  // Who may call comes first: a page on another site, or one that reached a loopback
  // askd through a rebound DNS name, gets nothing, not even a 404.
  if (auto why = caller_refusal(req)) {
    return refuse(req, *res, 403, *why);
  }
  auto origin = req.header("origin");
  if (!origin.empty())
    res->add_headers({{"Access-Control-Allow-Origin", std::string(origin)},
                      {"Vary", "Origin"},
                      {"Access-Control-Expose-Headers", "X-Request-Id, Retry-After, Location"}});
  std::string allow;
  const route* match = nullptr;
  bool open = false;
  auto style = errors::detail;
  for (const auto& r : routes) {
    if (!route_matches(r.path, req.path)) continue;
    if (req.method == r.method) match = &r;
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
    open = open || r.open;
    style = r.style;
  }
  // Refusals in the face's own shape: OpenAI's SDKs read {"error": {...}}.
  auto refuse = [&](int status, const std::string& detail, header_list extra = {}) {
    log_refusal("-", req, status, detail);
    if (style == errors::openai) return send_openai_error(*res, status, detail, std::move(extra));
    send_detail(*res, status, detail, std::move(extra));
  };
  if (req.path == "/ws/chat") allow = "GET";
  if (allow.empty()) return refuse(404, "Not Found");
  if (req.method == "OPTIONS") {  // a CORS preflight from an allowed origin, or a plain OPTIONS
    header_list h{{"Allow", allow + ", OPTIONS"}};
    if (!origin.empty()) {
      h.emplace_back("Access-Control-Allow-Methods", allow + ", OPTIONS");
      h.emplace_back("Access-Control-Allow-Headers",
                     "Content-Type, Authorization, X-API-Key, Last-Event-ID");
      h.emplace_back("Access-Control-Max-Age", "600");
    }
    return res->send(204, "text/plain", "", std::move(h));
  }
  if (!open && !caller_key(req))
    return refuse(401, "An API key is required: Authorization: Bearer <key>",
                  {{"WWW-Authenticate", "Bearer"}});
  if (match && match->json_body && !is_json(req.header("content-type")))
    // A form or text/plain POST is what a page on any site may send without asking
    // first (no CORS preflight): a chat is only ever JSON.
    return refuse(415, "Content-Type must be application/json, got " +
                           core::json::quote(core::clip(req.header("content-type"), 100)));
  if (match) return (this->*match->fn)(req, res);
  if (req.path == "/ws/chat" && req.method == "GET")
    return send_detail(*res, 426, "This endpoint speaks WebSocket only",
                       {{"Upgrade", "websocket"}});
  refuse(405, "Method Not Allowed", {{"Allow", allow}});
}

upgrade_decision askd_service::upgrade(const request& req) {
  upgrade_decision d;
  // Browsers do not apply CORS to WebSockets: any page may open one, so its Origin is
  // checked here as for any request.
  if (auto why = caller_refusal(req)) {
    log_refusal("-", req, 403, *why);
    d.status = 403;
    d.detail = *why;
    return d;
  }
  if (req.path != "/ws/chat") return d;  // 404
  auto owner = caller_key(req);
  if (!owner) {
    log_refusal("-", req, 401, "missing or unknown API key");
    d.status = 401;
    d.detail = "An API key is required: Authorization: Bearer <key>";
    return d;
  }
  // The compat socket takes no subprotocol; v1 arrives with "askd.v1" among the offered
  // tokens (a comma-separated list, compared whole: "notaskd.v1x" is not it).
  bool v1 = false;
  for (const auto& [name, value] : req.headers) {
    if (name != "sec-websocket-protocol") continue;
    std::string_view list = value;
    while (!list.empty() && !v1) {
      auto comma = list.find(',');
      v1 = core::trim_ascii(list.substr(0, comma)) == "askd.v1";
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  auto self = shared_from_this();
  socket_caller kept{req.peer, caller_of(req).client};
  if (v1) {
    d.subprotocol = "askd.v1";
    d.deflate = true;
    d.accept = [self, kept, owner = *owner](std::shared_ptr<websocket> ws) {
      return std::make_shared<v1_ws_handler>(self, std::move(ws), kept, owner);
    };
  } else {
    d.accept = [self, kept](std::shared_ptr<websocket> ws) {
      return std::make_shared<compat_ws_handler>(self, std::move(ws), kept);
    };
  }
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
      {});
}

// askd's own page (web/). Served without an API key: it holds no data, and asks for a
// key itself when the server needs one. Its scripts come only from this server.
void askd_service::web_page(const request& req, const std::shared_ptr<response>& res) {
  auto asset = find_web_asset(req.path);
  if (!asset) {
    return refuse(req, *res, 404, "Not Found");
  }
  header_list h{{"ETag", asset->etag},
                {"Cache-Control", "no-cache"},
                {"X-Content-Type-Options", "nosniff"},
                {"Referrer-Policy", "no-referrer"}};
  if (req.path == "/") {
    h.emplace_back("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    h.emplace_back("X-Frame-Options", "DENY");
  }
  if (req.header("if-none-match") == asset->etag) return res->send(304, "", "", std::move(h));
  res->send(200, asset->content_type, asset->body, std::move(h));
}

void askd_service::models_config(const request&, const std::shared_ptr<response>& res) {
  res->send(200, json_type, models_json_);
}

void askd_service::lang_config(const request&, const std::shared_ptr<response>& res) {
  res->send(200, json_type, cfg_.languages.json);
}

// The cluster as this node sees it: every member, its state since when, its load.
void askd_service::cluster(const request&, const std::shared_ptr<response>& res) {
  const auto& view = engine_.cluster();
  std::string j = "{\"node\":" + core::json::quote(view.self()) +
                  ",\"clustered\":" + (view.clustered() ? "true" : "false") + ",\"nodes\":[";
  bool first = true;
  for (const auto& m : view.members()) {
    if (!first) j += ',';
    first = false;
    j += "{\"name\":" + core::json::quote(m.name) + ",\"address\":" + core::json::quote(m.address) +
         ",\"state\":\"" + core::to_string(m.state) + "\",\"since\":" +
         core::json::quote(core::iso8601(m.since)) +
         ",\"weight\":" + core::json::format_number(m.weight) +
         ",\"version\":" + core::json::quote(m.version) +
         ",\"detail\":" + core::json::quote(m.detail) +
         ",\"load\":{\"streams\":" + std::to_string(m.load.streams) +
         ",\"provider_calls\":" + std::to_string(m.load.provider_calls) +
         ",\"queued\":" + std::to_string(m.load.queued) + "}}";
  }
  // Failover's quorum as this node judges it (actors/replication.hpp).
  auto q = view.quorum_now();
  j += "],\"quorum\":{\"up\":" + std::to_string(q.up) + ",\"base\":" + std::to_string(q.base) +
       ",\"majority\":" + (q.majority() ? "true" : "false") + "}}";
  res->send(200, json_type, j);
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
  if (connections_) {
    metric("askd_connections", "gauge",
           "Open client connections, HTTP and WebSocket (past server.max_connections one is "
           "refused at accept).");
    line("askd_connections", static_cast<std::int64_t>(connections_()));
  }
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
  metric("askd_limiter_capacity", "gauge",
         "Slots this node may use, by limiter: its share of the cluster's max_concurrent.");
  for (const auto& l : ctx.limiters) {
    if (l.name.rfind("provider:", 0) != 0) continue;
    auto capacity = l.capacity.load();
    line("askd_limiter_capacity{limiter=\"" + l.name + "\"}",
         capacity >= 0 ? capacity
                       : cfg_.limits.for_provider(l.name.substr(9)).max_concurrent);
  }
  metric("askd_index_builds_total", "counter", "Fetch and index jobs started on this node.");
  line("askd_index_builds_total", m.index_builds);
  metric("askd_remote_watches_total", "counter",
         "Clients of this node attached to a stream another node owns.");
  line("askd_remote_watches_total", m.remote_watches);
  metric("askd_remote_retrievals_total", "counter",
         "Searches sent to the node that owns the repository.");
  line("askd_remote_retrievals_total", m.remote_retrievals);
  metric("askd_replica_batches_total", "counter",
         "Batches of stream events this node sent its streams' replicas.");
  line("askd_replica_batches_total", m.replica_batches);
  metric("askd_replica_events_total", "counter", "Stream events this node sent replicas.");
  line("askd_replica_events_total", m.replica_events);
  metric("askd_replica_bytes_total", "counter",
         "Bytes of stream events this node sent replicas (text, data and 32 per event).");
  line("askd_replica_bytes_total", m.replica_bytes);
  metric("askd_replicas_moved_total", "counter",
         "Replicas this node's streams lost and found again on another node.");
  line("askd_replicas_moved_total", m.replicas_moved);
  metric("askd_streams_fenced_total", "counter",
         "Streams this node stopped serving: replica lost and none found, or taken over.");
  line("askd_streams_fenced_total", m.fenced);
  metric("askd_takeovers_total", "counter", "Streams taken over from a lost node.");
  line("askd_takeovers_total", m.takeovers);
  metric("askd_replica_commit_seconds", "histogram",
         "From an event's publishing to its release to clients: what waiting for the "
         "stream's replica adds (group commit).");
  {
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i < std::size(actors::replica_commit_bounds_us); ++i) {
      cumulative += m.replica_commit_us[i];
      auto bound = actors::replica_commit_bounds_us[i];
      out += "askd_replica_commit_seconds_bucket{le=\"" +
             (bound < 0 ? std::string("+Inf") : core::json::format_number(bound / 1e6)) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "askd_replica_commit_seconds_sum " +
           core::json::format_number(m.replica_commit_sum_us / 1e6) + "\n";
    out += "askd_replica_commit_seconds_count " + std::to_string(cumulative) + "\n";
  }
  metric("askd_replicas_held", "gauge", "Copies of other nodes' streams held on this node.");
  line("askd_replicas_held", m.replicas_held);
  metric("askd_cluster_nodes", "gauge", "Cluster members as this node sees them, by state.");
  {
    std::map<std::string, std::int64_t> by_state;
    for (auto s : {core::member_state::self, core::member_state::up, core::member_state::joining,
                   core::member_state::down, core::member_state::refused})
      by_state[core::to_string(s)] = 0;
    for (const auto& member : engine_.cluster().members()) by_state[core::to_string(member.state)]++;
    for (const auto& [state, n] : by_state)
      line("askd_cluster_nodes{state=\"" + state + "\"}", n);
  }
  metric("askd_client_rate_share", "gauge",
         "This node's part of limits.client_rate (1 on a single node), in thousandths.");
  line("askd_client_rate_share", static_cast<std::int64_t>(ctx.client_rate_share * 1000));
  metric("askd_limiter_refused_total", "counter", "Refused because the limiter was full.");
  for (const auto& l : ctx.limiters)
    line("askd_limiter_refused_total{limiter=\"" + l.name + "\"}", l.refused);
  metric("askd_degradations_total", "counter",
         "Answers that gave something up (context, provider).");
  line("askd_degradations_total", m.degradations);
  metric("askd_actors", "gauge", "Live actors by kind.");
  line("askd_actors{kind=\"session\"}", ctx.census.sessions);
  line("askd_actors{kind=\"stream\"}", ctx.census.streams);
  line("askd_actors{kind=\"lingering_stream\"}", ctx.census.lingering);
  line("askd_actors{kind=\"sink\"}", ctx.census.sinks);
  line("askd_actors{kind=\"round\"}", ctx.census.rounds);
  line("askd_actors{kind=\"research\"}", ctx.census.research);
  line("askd_actors{kind=\"call_supervisor\"}", ctx.census.supervisors);
  line("askd_actors{kind=\"provider_call\"}", ctx.census.provider_calls);
  if (const auto& cache = ctx.answers) {
    struct {
      const char* name;
      const char* type;
      const char* help;
      std::int64_t value;
    } const answer_metrics[] = {
        {"askd_answer_cache_hits_total", "counter", "Answers replayed from the answer cache.",
         cache->hits},
        {"askd_answer_cache_misses_total", "counter",
         "Generations asked upstream and recorded for the answer cache.", cache->misses},
        {"askd_answer_cache_shared_total", "counter",
         "Generations that followed an identical question's upstream call in flight.",
         cache->shared},
        {"askd_answer_cache_stores_total", "counter", "Answers kept in the answer cache.",
         cache->stores},
        {"askd_answer_cache_evictions_total", "counter",
         "Answers dropped for room (answer_cache.max_mb).", cache->evictions},
        {"askd_answer_cache_expired_total", "counter", "Answers dropped past answer_cache.ttl_s.",
         cache->expired},
        {"askd_answer_cache_bytes", "gauge", "Bytes the answer cache holds.", cache->bytes()},
        {"askd_answer_cache_entries", "gauge", "Answers the answer cache holds.",
         cache->entries()},
    };
    for (const auto& m : answer_metrics) {
      metric(m.name, m.type, m.help);
      line(m.name, m.value);
    }
  }
  metric("askd_upstream_transfers", "gauge", "Upstream HTTP transfers in flight.");
  line("askd_upstream_transfers", ctx.curl ? static_cast<std::int64_t>(ctx.curl->active()) : 0);
  metric("askd_upstream_sockets_opened_total", "counter",
         "Sockets opened to upstreams: connection attempts, one per address tried, made "
         "when a call finds no kept connection to reuse.");
  line("askd_upstream_sockets_opened_total",
       ctx.curl ? static_cast<std::int64_t>(ctx.curl->sockets_opened()) : 0);
  res->send(200, "text/plain; version=0.0.4; charset=utf-8", std::move(out));
}

namespace {

void refuse_http(response& res, const core::error& err, const std::string& id) {
  send_refusal(res, err.code, err.message, err.retry_after_ms, id);
}

}  // namespace

void askd_service::compat_chat(const request& req, const std::shared_ptr<response>& res) {
  auto id = core::new_request_id();
  auto admitted = admit_chat(caller_of(req), req.body, id, true);
  if (!admitted) return refuse_http(*res, admitted.err(), id);
  auto attachment = engine_.start_chat(std::move(admitted->request), std::move(admitted->source),
                                       id, std::make_shared<compat_http_port>(res, id));
  res->on_disconnect([attachment] { attachment.client_gone(); });
}

void askd_service::v1_chat(const request& req, const std::shared_ptr<response>& res) {
  auto id = core::new_request_id();
  auto admitted = admit_chat(caller_of(req), req.body, id);
  if (!admitted) return refuse_http(*res, admitted.err(), id);
  auto port =
      std::make_shared<sse_port>(res, id, cfg_.streams.ping_s, false, cfg_.server.write_queue_bytes);
  auto attachment = engine_.start_chat(std::move(admitted->request), std::move(admitted->source),
                                       id, port, actors::chat_kind::v1, *caller_key(req));
  res->on_disconnect([attachment] { attachment.client_gone(); });
}

void askd_service::v1_start(const request& req, const std::shared_ptr<response>& res) {
  auto id = core::new_request_id();
  auto admitted = admit_chat(caller_of(req), req.body, id);
  if (!admitted) return refuse_http(*res, admitted.err(), id);
  auto a = engine_.start_chat(std::move(admitted->request), std::move(admitted->source), id,
                              nullptr, actors::chat_kind::background, *caller_key(req));
  header_list h;
  h.emplace_back("Location", "/v1/streams/" + a.stream_id());
  h.emplace_back("X-Request-Id", id);
  res->send(201, json_type, "{\"stream_id\":" + core::json::quote(a.stream_id()) + "}",
            std::move(h));
}

void askd_service::v1_watch(const request& req, const std::shared_ptr<response>& res) {
  auto stream_id = last_segment(req.path);
  // A browser's EventSource resumes with Last-Event-ID; other clients may say ?after=N.
  std::uint64_t after = 0;
  std::string from(req.header("last-event-id"));
  if (from.empty()) from = req.query_param("after");
  if (!from.empty()) {
    auto parsed = core::json::parse_count(from);
    if (!parsed) {
      log_refusal("-", req, 400, "bad Last-Event-ID");
      return send_detail(
          *res, 400,
          "Last-Event-ID / after: expected an event number, got " + core::json::quote(from));
    }
    after = *parsed;
  }
  auto id = core::new_request_id();
  auto port =
      std::make_shared<sse_port>(res, id, cfg_.streams.ping_s, true, cfg_.server.write_queue_bytes);
  port->when_missing([this, res, id, req, stream_id] {
    log_refusal(id, req, 404, "no such stream");
    send_detail(*res, 404,
                "No stream " + stream_id + " (unknown, or expired after " +
                    std::to_string(cfg_.streams.linger_s) + " s)");
  });
  auto attachment = engine_.attach(stream_id, *caller_key(req), after, port);
  if (attachment) res->on_disconnect([attachment] { attachment.client_gone(); });
}

void askd_service::v1_cancel(const request& req, const std::shared_ptr<response>& res) {
  auto stream_id = last_segment(req.path);
  engine_.cancel(stream_id, *caller_key(req), [this, res, req, stream_id](bool found) {
    if (found) return res->send(204, "text/plain", "");
    log_refusal("-", req, 404, "no such stream");
    send_detail(*res, 404, "No stream " + stream_id + " (unknown or expired)");
  });
}

}  // namespace askd::net
