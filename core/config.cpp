#include "core/config.hpp"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <sstream>

#include "core/json.hpp"
#include "core/net_address.hpp"
#include "core/text.hpp"

namespace askd::core {
namespace {

std::string default_getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Our own files are strict: a key we do not know is a typo, and a typo must not pass.
void reject_unknown_keys(const json::object_reader& r, std::initializer_list<const char*> known) {
  for (auto it = r.value().MemberBegin(); it != r.value().MemberEnd(); ++it) {
    std::string key(it->name.GetString(), it->name.GetStringLength());
    bool ok = false;
    std::string list;
    for (const char* k : known) {
      ok = ok || key == k;
      if (!list.empty()) list += ", ";
      list += k;
    }
    if (!ok) throw json::field_error(r.path_of(key), "one of the keys " + list, "an unknown key");
  }
}

// Parses one config file's text as a JSON object and hands its root to `fn`; any
// error becomes a config_error naming the file.
template <class Fn>
void with_root(const std::string& text, const std::string& source, Fn&& fn) {
  try {
    rapidjson::Document doc;
    json::parse(text, doc);
    json::object_reader root(doc, "");
    fn(root);
  } catch (const json::field_error& e) {
    throw config_error(source + ": " + e.what());
  } catch (const json::syntax_error& e) {
    throw config_error(source + ": " + e.what());
  }
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw config_error(p.string() + ": cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int int_in(const json::object_reader& r, const char* key, int fallback, int min, int max) {
  auto v = r.integer(key, min, max);
  return v ? static_cast<int>(*v) : fallback;
}

double number_in(const json::object_reader& r, const char* key, double fallback, double min,
                 double max) {
  auto v = r.number(key);
  if (!v) return fallback;
  if (*v < min || *v > max)
    throw json::field_error(
        r.path_of(key),
        "a number from " + json::format_number(min) + " to " + json::format_number(max),
        json::format_number(*v));
  return *v;
}

// An array of strings at `key` (absent → empty).
std::vector<std::string> strings_in(const json::object_reader& r, const char* key) {
  std::vector<std::string> out;
  const auto* a = r.array(key);
  if (!a) return out;
  for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
    const auto& v = (*a)[i];
    if (!v.IsString())
      throw json::field_error(r.path_of(key) + "[" + std::to_string(i) + "]", "a string",
                              json::describe(v));
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

std::size_t size_in(const json::object_reader& r, const char* key, std::size_t fallback,
                    std::int64_t min, std::int64_t max) {
  auto v = r.integer(key, min, max);
  return v ? static_cast<std::size_t>(*v) : fallback;
}

}  // namespace

const model_settings* provider_settings::find_model(const std::string& model) const {
  for (const auto& m : models)
    if (m.id == model) return &m;
  return nullptr;
}

const provider_settings* generator_settings::find(const std::string& id) const {
  for (const auto& p : providers)
    if (p.id == id) return &p;
  return nullptr;
}

const std::string* language_settings::name_of(const std::string& code) const {
  for (const auto& [c, name] : supported)
    if (c == code) return &name;
  return nullptr;
}

std::string expand_home(const std::string& path, std::string (*getenv)(const char*)) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    auto home = (getenv ? getenv : default_getenv)("HOME");
    return (home.empty() ? std::string("/tmp") : home) + path.substr(1);
  }
  return path;
}

const provider_limit& limits_settings::for_provider(const std::string& id) const {
  auto it = providers.find(id);
  return it == providers.end() ? provider_default : it->second;
}

namespace {

provider_limit parse_provider_limit(const rapidjson::Value& v, const std::string& where,
                                    provider_limit out) {
  json::object_reader r(v, where);
  reject_unknown_keys(r, {"max_concurrent", "max_queued"});
  out.max_concurrent = int_in(r, "max_concurrent", out.max_concurrent, 1, 1000000);
  out.max_queued = int_in(r, "max_queued", out.max_queued, 0, 1000000);
  return out;
}

void parse_limits(const rapidjson::Value& v, limits_settings& out) {
  json::object_reader r(v, "limits");
  reject_unknown_keys(r, {"request_timeout_ms", "max_queued_requests", "client_rate",
                          "client_burst", "retry_after_s", "providers"});
  out.request_timeout_ms = int_in(r, "request_timeout_ms", out.request_timeout_ms, 100, 86400000);
  out.max_queued_requests = int_in(r, "max_queued_requests", out.max_queued_requests, 1, 10000000);
  out.client_burst = int_in(r, "client_burst", out.client_burst, 1, 1000000);
  out.retry_after_s = int_in(r, "retry_after_s", out.retry_after_s, 1, 3600);
  out.client_rate = number_in(r, "client_rate", out.client_rate, 0, 1e6);
  if (const auto* p = r.object("providers")) {
    json::object_reader pr(*p, "limits.providers");
    if (const auto* d = pr.object("default"))  // first: the others start from it
      out.provider_default = parse_provider_limit(*d, pr.path_of("default"), out.provider_default);
    for (auto it = p->MemberBegin(); it != p->MemberEnd(); ++it) {
      std::string id(it->name.GetString(), it->name.GetStringLength());
      if (id == "default") continue;
      if (!it->value.IsObject())
        throw json::field_error(pr.path_of(id.c_str()), "an object", "something else");
      out.providers[id] =
          parse_provider_limit(it->value, pr.path_of(id.c_str()), out.provider_default);
    }
  }
}

}  // namespace

void parse_server_config(const std::string& text, const std::string& source, config& out) {
  with_root(text, source, [&](const json::object_reader& root) {
    reject_unknown_keys(root, {"server", "engine", "upstream", "limits", "streams", "auth", "log",
                               "repos", "cluster", "wiki_cache", "answer_cache", "data_dir"});
    if (const auto* s = root.object("server")) {
      json::object_reader r(*s, "server");
      reject_unknown_keys(
          r, {"host", "port", "io_threads", "max_body_bytes", "max_connections",
              "header_timeout_ms", "idle_timeout_ms", "ws_idle_timeout_ms", "write_queue_bytes",
              "shutdown_grace_ms", "body_budget_bytes", "cors_origins", "trusted_proxies"});
      auto& v = out.server;
      v.host = r.string_or("host", v.host);
      if (v.host.empty()) throw json::field_error("server.host", "an address", "an empty string");
      v.port = static_cast<std::uint16_t>(int_in(r, "port", v.port, 0, 65535));
      v.io_threads = int_in(r, "io_threads", v.io_threads, 0, 64);
      v.max_body_bytes = size_in(r, "max_body_bytes", v.max_body_bytes, 1024, 1LL << 30);
      v.max_connections = size_in(r, "max_connections", v.max_connections, 1, 1000000);
      v.header_timeout_ms = int_in(r, "header_timeout_ms", v.header_timeout_ms, 100, 3600000);
      v.idle_timeout_ms = int_in(r, "idle_timeout_ms", v.idle_timeout_ms, 100, 86400000);
      v.ws_idle_timeout_ms = int_in(r, "ws_idle_timeout_ms", v.ws_idle_timeout_ms, 200, 86400000);
      v.write_queue_bytes = size_in(r, "write_queue_bytes", v.write_queue_bytes, 4096, 1LL << 30);
      v.shutdown_grace_ms = int_in(r, "shutdown_grace_ms", v.shutdown_grace_ms, 0, 3600000);
      v.body_budget_bytes = size_in(r, "body_budget_bytes", v.body_budget_bytes, 1024, 1LL << 40);
      if (r.array("cors_origins")) v.cors_origins = strings_in(r, "cors_origins");
      for (std::size_t i = 0; i < v.cors_origins.size(); ++i)
        if (!is_origin(v.cors_origins[i]))
          throw json::field_error("server.cors_origins[" + std::to_string(i) + "]",
                                  "\"*\" or an origin like \"https://host\" or \"http://host:port\"",
                                  json::quote(v.cors_origins[i]));
      if (r.array("trusted_proxies")) v.trusted_proxies = strings_in(r, "trusted_proxies");
      for (std::size_t i = 0; i < v.trusted_proxies.size(); ++i)
        if (!parse_network(v.trusted_proxies[i]))
          throw json::field_error("server.trusted_proxies[" + std::to_string(i) + "]",
                                  "an IP address or a network like \"10.0.0.0/8\"",
                                  json::quote(v.trusted_proxies[i]));
    }
    if (const auto* s = root.object("engine")) {
      json::object_reader r(*s, "engine");
      reject_unknown_keys(r, {"workers", "curl_threads"});
      out.engine.workers = int_in(r, "workers", out.engine.workers, 0, 256);
      out.engine.curl_threads = int_in(r, "curl_threads", out.engine.curl_threads, 0, 256);
    }
    if (const auto* s = root.object("upstream")) {
      json::object_reader r(*s, "upstream");
      reject_unknown_keys(r,
                          {"connect_timeout_ms", "first_token_timeout_ms", "idle_timeout_ms",
                           "max_error_body_bytes", "max_attempts", "backoff_ms", "backoff_jitter",
                           "max_retry_after_ms", "idle_connections", "cafile"});
      auto& v = out.upstream;
      v.max_attempts = int_in(r, "max_attempts", v.max_attempts, 1, 20);
      v.backoff_ms = int_in(r, "backoff_ms", v.backoff_ms, 0, 600000);
      v.backoff_jitter = number_in(r, "backoff_jitter", v.backoff_jitter, 0, 1);
      v.max_retry_after_ms = int_in(r, "max_retry_after_ms", v.max_retry_after_ms, 0, 3600000);
      v.connect_timeout_ms = int_in(r, "connect_timeout_ms", v.connect_timeout_ms, 1, 600000);
      v.first_token_timeout_ms =
          int_in(r, "first_token_timeout_ms", v.first_token_timeout_ms, 1, 3600000);
      v.idle_timeout_ms = int_in(r, "idle_timeout_ms", v.idle_timeout_ms, 1, 3600000);
      v.max_error_body_bytes =
          size_in(r, "max_error_body_bytes", v.max_error_body_bytes, 256, 16 << 20);
      v.idle_connections = int_in(r, "idle_connections", v.idle_connections, 0, 65536);
      v.cafile = r.string_or("cafile", v.cafile);
    }
    if (const auto* s = root.object("limits")) parse_limits(*s, out.limits);
    if (const auto* s = root.object("streams")) {
      json::object_reader r(*s, "streams");
      reject_unknown_keys(r, {"linger_s", "detach_grace_s", "replay_bytes", "ping_s", "replicate"});
      auto& v = out.streams;
      v.linger_s = int_in(r, "linger_s", v.linger_s, 0, 86400);
      v.detach_grace_s = int_in(r, "detach_grace_s", v.detach_grace_s, 0, 86400);
      v.replay_bytes = size_in(r, "replay_bytes", v.replay_bytes, 4096, 1LL << 32);
      v.ping_s = int_in(r, "ping_s", v.ping_s, 1, 3600);
      if (auto b = r.boolean("replicate")) v.replicate = *b;
    }
    if (const auto* s = root.object("wiki_cache")) {
      json::object_reader r(*s, "wiki_cache");
      reject_unknown_keys(r, {"max_entries", "max_mb"});
      auto& v = out.wiki_cache;
      v.max_entries = size_in(r, "max_entries", v.max_entries, 1, 1000000);
      v.max_mb = size_in(r, "max_mb", v.max_mb, 1, 1LL << 20);
    }
    if (const auto* s = root.object("answer_cache")) {
      json::object_reader r(*s, "answer_cache");
      reject_unknown_keys(r, {"enabled", "max_mb", "ttl_s"});
      auto& v = out.answer_cache;
      if (auto b = r.boolean("enabled")) v.enabled = *b;
      v.max_mb = size_in(r, "max_mb", v.max_mb, 1, 1LL << 20);
      v.ttl_s = int_in(r, "ttl_s", v.ttl_s, 1, 7 * 86400);
    }
    if (const auto* s = root.object("auth")) {
      json::object_reader r(*s, "auth");
      reject_unknown_keys(r, {"api_keys"});
      out.auth.api_keys = strings_in(r, "api_keys");
      for (std::size_t i = 0; i < out.auth.api_keys.size(); ++i)
        if (out.auth.api_keys[i].size() < 16)
          throw json::field_error("auth.api_keys[" + std::to_string(i) + "]",
                                  "a key of at least 16 characters", "a shorter one");
    }
    if (const auto* s = root.object("log")) {
      json::object_reader r(*s, "log");
      reject_unknown_keys(r, {"level"});
      out.log.level = r.string_or("level", out.log.level);
      if (out.log.level != "debug" && out.log.level != "info" && out.log.level != "warn" &&
          out.log.level != "error")
        throw json::field_error("log.level", "one of debug, info, warn, error",
                                json::quote(out.log.level));
    }
    if (const auto* s = root.object("repos")) {
      json::object_reader r(*s, "repos");
      reject_unknown_keys(r, {"local_roots", "allowed_hosts", "allow_http", "clone_timeout_s",
                              "max_repo_mb", "refresh_interval_s", "index_memory_mb",
                              "max_concurrent_builds", "max_queued_builds", "disk_mb",
                              "index_timeout_s"});
      if (r.array("allowed_hosts")) out.repos.allowed_hosts = strings_in(r, "allowed_hosts");
      out.repos.allow_http = r.boolean("allow_http").value_or(out.repos.allow_http);
      out.repos.max_concurrent_builds =
          int_in(r, "max_concurrent_builds", out.repos.max_concurrent_builds, 1, 256);
      out.repos.max_queued_builds =
          int_in(r, "max_queued_builds", out.repos.max_queued_builds, 0, 100000);
      out.repos.local_roots = strings_in(r, "local_roots");
      out.repos.clone_timeout_s = int_in(r, "clone_timeout_s", out.repos.clone_timeout_s, 1, 86400);
      out.repos.index_timeout_s = int_in(r, "index_timeout_s", out.repos.index_timeout_s, 1, 86400);
      out.repos.max_repo_mb = size_in(r, "max_repo_mb", out.repos.max_repo_mb, 1, 1 << 20);
      out.repos.refresh_interval_s =
          int_in(r, "refresh_interval_s", out.repos.refresh_interval_s, 0, 86400 * 30);
      out.repos.index_memory_mb =
          size_in(r, "index_memory_mb", out.repos.index_memory_mb, 0, 1 << 24);
      out.repos.disk_mb = size_in(r, "disk_mb", out.repos.disk_mb, 0, 1LL << 30);
    }
    if (const auto* s = root.object("cluster")) {
      json::object_reader r(*s, "cluster");
      reject_unknown_keys(r, {"node", "listen", "seeds", "weight", "heartbeat_ms", "timeout_ms",
                              "connect_timeout_ms", "reconnect_ms", "request_timeout_ms",
                              "insecure", "certificate", "key", "cafile", "passphrase"});
      auto& v = out.cluster;
      v.node = r.string_or("node", v.node);
      v.listen = r.string_or("listen", v.listen);
      if (r.array("seeds")) v.seeds = strings_in(r, "seeds");
      v.weight = number_in(r, "weight", v.weight, 0.001, 1000);
      v.heartbeat_ms = int_in(r, "heartbeat_ms", v.heartbeat_ms, 50, 600000);
      v.timeout_ms = int_in(r, "timeout_ms", v.timeout_ms, 100, 3600000);
      v.connect_timeout_ms = int_in(r, "connect_timeout_ms", v.connect_timeout_ms, 100, 600000);
      v.reconnect_ms = int_in(r, "reconnect_ms", v.reconnect_ms, 50, 3600000);
      v.request_timeout_ms = int_in(r, "request_timeout_ms", v.request_timeout_ms, 100, 3600000);
      v.insecure = r.boolean("insecure").value_or(v.insecure);
      v.certificate = r.string_or("certificate", v.certificate);
      v.key = r.string_or("key", v.key);
      v.cafile = r.string_or("cafile", v.cafile);
      v.passphrase = r.string_or("passphrase", v.passphrase);
    }
    out.data_dir = root.string_or("data_dir", out.data_dir);
  });
}

std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || text.size() > 300) return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 address needs its brackets
  }
  auto port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto port = std::stoi(port_text);
  if (port < 1 || port > 65535) return std::nullopt;
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

bool is_node_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

namespace {

// The cluster section after the flags: addresses parsed, a node name, TLS files present
// unless plain TCP was asked for.
void check_cluster(const std::string& source, cluster_settings& c) {
  if (!c.enabled()) {
    if (!c.seeds.empty())
      throw config_error(source + ": cluster.seeds: needs cluster.listen (--cluster-listen)");
    return;
  }
  auto listen = parse_host_port(c.listen);
  if (!listen)
    throw config_error(source + ": cluster.listen: expected host:port, got \"" +
                       core::clip(c.listen) + "\"");
  if (listen->first == "0.0.0.0" || listen->first == "::" || listen->first.empty())
    throw config_error(source + ": cluster.listen: " + c.listen +
                       " is not an address other nodes can reach this one at (it is also what "
                       "this node tells them): name the interface's address");
  for (const auto& seed : c.seeds)
    if (!parse_host_port(seed))
      throw config_error(source + ": cluster.seeds: expected host:port, got \"" +
                         core::clip(seed) + "\"");
  if (c.node.empty()) {
    for (char ch : listen->first + "-" + std::to_string(listen->second))
      c.node += std::isalnum(static_cast<unsigned char>(ch))
                    ? static_cast<char>(std::tolower(static_cast<unsigned char>(ch)))
                    : '-';
    if (c.node.size() > 32) c.node = c.node.substr(c.node.size() - 32);
  }
  if (!is_node_name(c.node))
    throw config_error(source + ": cluster.node: expected 1 to 32 of a-z, 0-9 and -, got \"" +
                       core::clip(c.node) + "\"");
  if (c.insecure) return;
  for (auto [name, value] : {std::pair{"certificate", &c.certificate}, std::pair{"key", &c.key},
                             std::pair{"cafile", &c.cafile}}) {
    if (value->empty())
      throw config_error(source + ": cluster." + name +
                         ": required (cluster traffic is TLS with mutual certificates; set "
                         "cluster.insecure to true for plain TCP on a trusted network)");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*value, ec))
      throw config_error(source + ": cluster." + name + ": " + *value + " is not a file");
  }
}

// upstream.cafile, when set: a readable file with a PEM certificate in it, made absolute
// (libcurl opens it for each new connection's thread). Checked at the start, so a wrong
// path is an error there and not a refused call at the first question.
std::string checked_upstream_cafile(const std::string& source, const std::string& cafile,
                                    std::string (*getenv)(const char*)) {
  if (cafile.empty()) return cafile;
  namespace fs = std::filesystem;
  auto key = source + ": upstream.cafile: ";
  // ~ and ~/... as expand_home reads them, but never its /tmp without a HOME: anyone can
  // write a file there. ~user/... is not read.
  bool home_relative = cafile == "~" || cafile.rfind("~/", 0) == 0;
  if (!home_relative && cafile[0] == '~')
    throw config_error(key + cafile + ": ~user paths are not read; give the full path");
  if (home_relative && (getenv ? getenv : default_getenv)("HOME").empty())
    throw config_error(key + cafile + " starts with ~ but HOME is not set");
  std::error_code ec;
  // Absolute, not normalised: with a symlink in it, "link/../x" is not "x".
  auto path = fs::absolute(expand_home(cafile, getenv), ec).string();
  if (ec) throw config_error(key + cafile + ": " + ec.message());
  auto where = key + path;
  auto status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw config_error(where + ": " + ec.message());
  if (!fs::is_regular_file(status)) throw config_error(where + " is not a file");
  // A bundle of every public CA is ~200 KB; more than 16 MB is not a CA file.
  auto size = fs::file_size(path, ec);
  if (ec) throw config_error(where + ": " + ec.message());
  if (size > (16u << 20)) throw config_error(where + " is over 16 MB: not a CA file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(where + " cannot be read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos &&
      text.find("-----BEGIN TRUSTED CERTIFICATE-----") == std::string::npos)
    throw config_error(where + " has no PEM certificate (\"-----BEGIN CERTIFICATE-----\")");
  return path;
}

}  // namespace

// A provider's (or embedder's) "client" block: where it is, its key, its headers.
static void parse_client(const json::object_reader& cr, provider_settings& p,
                         std::string (*getenv)(const char*)) {
  reject_unknown_keys(cr, {"base_url", "base_url_env", "api_key_env", "headers", "include_usage",
                           "api_version", "api_version_env", "strip_think", "region", "region_env",
                           "secret_env", "session_token_env"});
  // A value conf writes, which the variable conf names (when set) replaces.
  auto with_env = [&](const char* key, const char* env_key, std::string* env_name) {
    auto value = cr.string_or(key, "");
    auto env = cr.string_or(env_key, "");
    if (env_name) *env_name = env;
    if (!env.empty())
      if (auto v = getenv(env.c_str()); !v.empty()) value = v;
    return value;
  };
  p.base_url = with_env("base_url", "base_url_env", &p.base_url_env);
  while (!p.base_url.empty() && p.base_url.back() == '/') p.base_url.pop_back();
  p.api_key_env = cr.string_or("api_key_env", "");
  if (!p.api_key_env.empty()) p.api_key = getenv(p.api_key_env.c_str());
  p.include_usage = cr.boolean("include_usage").value_or(true);
  p.api_version = with_env("api_version", "api_version_env", nullptr);
  p.strip_think = cr.boolean("strip_think").value_or(true);
  p.region = with_env("region", "region_env", nullptr);
  p.secret_env = cr.string_or("secret_env", "");
  if (!p.secret_env.empty()) p.secret_key = getenv(p.secret_env.c_str());
  if (auto env = cr.string_or("session_token_env", ""); !env.empty())
    p.session_token = getenv(env.c_str());
  if (const auto* h = cr.object("headers")) {
    json::object_reader hr(*h, cr.path_of("headers"));
    for (auto hi = h->MemberBegin(); hi != h->MemberEnd(); ++hi) {
      std::string name(hi->name.GetString(), hi->name.GetStringLength());
      p.headers[name] = hr.required_string(name.c_str());
    }
  }
}

embedder_config parse_embedder_config(const std::string& text, const std::string& source,
                                      std::string (*getenv)(const char*)) {
  if (!getenv) getenv = default_getenv;
  embedder_config e;
  e.source = source;
  with_root(text, source, [&](const json::object_reader& root) {
    e.default_embedder = root.required_string("default_embedder");
    e.max_concurrent = static_cast<int>(root.integer("max_concurrent", 1, 1024).value_or(4));
    const auto* embedders = root.object("embedders");
    if (!embedders) throw json::field_error("embedders", "an object", "nothing");
    for (auto it = embedders->MemberBegin(); it != embedders->MemberEnd(); ++it) {
      embedder_settings m;
      m.id.assign(it->name.GetString(), it->name.GetStringLength());
      json::object_reader r(it->value, "embedders." + m.id);
      m.client_class = r.required_string("client_class");
      if (m.client_class != "OpenAIClient" && m.client_class != "OllamaClient" &&
          m.client_class != "GoogleEmbedderClient")
        throw json::field_error(r.path_of("client_class"),
                                "OpenAIClient, OllamaClient or GoogleEmbedderClient",
                                json::quote(m.client_class));
      m.model = r.required_string("model");
      m.dimensions = static_cast<int>(r.integer("dimensions", 1, 65536).value_or(0));
      m.task_type = r.string_or("task_type", "");
      m.batch_size = static_cast<int>(r.integer("batch_size", 1, 4096).value_or(64));
      m.max_batch_tokens = r.integer("max_batch_tokens", 16, 1LL << 32).value_or(100000);
      m.max_input_tokens =
          static_cast<int>(r.integer("max_input_tokens", 16, 1 << 20).value_or(2000));
      m.client.id = m.id;
      if (const auto* c = r.object("client"))
        parse_client(json::object_reader(*c, r.path_of("client")), m.client, getenv);
      e.embedders.push_back(std::move(m));
    }
    if (!e.find(e.default_embedder))
      throw json::field_error("default_embedder", "one of the embedders",
                              json::quote(e.default_embedder));
  });
  return e;
}

const embedder_settings* embedder_config::find(const std::string& id) const {
  for (const auto& m : embedders)
    if (m.id == id) return &m;
  return nullptr;
}

generator_settings parse_generator_config(const std::string& text, const std::string& source,
                                          std::string (*getenv)(const char*)) {
  if (!getenv) getenv = default_getenv;
  generator_settings g;
  g.source = source;
  with_root(text, source, [&](const json::object_reader& root) {
    g.default_provider = root.required_string("default_provider");
    g.fallback = strings_in(root, "fallback");
    const auto* providers = root.object("providers");
    if (!providers) throw json::field_error("providers", "an object", "nothing");
    for (auto it = providers->MemberBegin(); it != providers->MemberEnd(); ++it) {
      provider_settings p;
      p.id.assign(it->name.GetString(), it->name.GetStringLength());
      json::object_reader r(it->value, "providers." + p.id);
      p.name = r.string_or("name", "");
      if (p.name.empty() && !p.id.empty()) {
        p.name = p.id;
        p.name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(p.name[0])));
      }
      p.client_class = r.required_string("client_class");
      p.default_model = r.required_string("default_model");
      p.supports_custom_model = r.boolean("supportsCustomModel").value_or(true);
      const auto* models = r.object("models");
      if (!models) throw json::field_error(r.path_of("models"), "an object", "nothing");
      for (auto m = models->MemberBegin(); m != models->MemberEnd(); ++m) {
        model_settings ms;
        ms.id.assign(m->name.GetString(), m->name.GetStringLength());
        json::object_reader mr(m->value, r.path_of("models") + "." + ms.id);
        ms.context_window = mr.integer("context_window", 1, 1LL << 40).value_or(0);
        ms.params_json = json::write(m->value);
        p.models.push_back(std::move(ms));
      }
      if (!p.supports_custom_model && !p.find_model(p.default_model))
        throw json::field_error(r.path_of("default_model"), "one of the provider's models",
                                json::quote(p.default_model));
      if (const auto* c = r.object("client"))
        parse_client(json::object_reader(*c, r.path_of("client")), p, getenv);
      g.providers.push_back(std::move(p));
    }
    if (g.providers.empty()) throw json::field_error("providers", "at least one provider", "none");
    for (std::size_t i = 0; i < g.fallback.size(); ++i)
      if (!g.find(g.fallback[i]))
        throw json::field_error("fallback[" + std::to_string(i) + "]", "one of the providers",
                                json::quote(g.fallback[i]));
    if (!g.find(g.default_provider)) {
      std::string ids;
      for (const auto& p : g.providers) ids += (ids.empty() ? "" : ", ") + p.id;
      throw json::field_error("default_provider", "one of the providers (" + ids + ")",
                              json::quote(g.default_provider));
    }
  });
  return g;
}

language_settings parse_language_config(const std::string& text, const std::string& source) {
  language_settings l;
  with_root(text, source, [&](const json::object_reader& root) {
    const auto* langs = root.object("supported_languages");
    if (!langs) throw json::field_error("supported_languages", "an object", "nothing");
    json::object_reader lr(*langs, "supported_languages");
    for (auto it = langs->MemberBegin(); it != langs->MemberEnd(); ++it) {
      std::string code(it->name.GetString(), it->name.GetStringLength());
      l.supported.emplace_back(code, lr.required_string(code.c_str()));
    }
    l.default_code = root.string_or("default", "en");
    if (!l.name_of(l.default_code))
      throw json::field_error("default", "one of the supported languages",
                              json::quote(l.default_code));
    l.json = json::write(root.value());
  });
  return l;
}

repo_settings parse_repo_config(const std::string& text, const std::string& source) {
  repo_settings out;
  out.source = source;
  with_root(text, source, [&](const json::object_reader& root) {
    reject_unknown_keys(root, {"file_filters", "extensions", "limits", "chunking"});
    if (const auto* f = root.object("file_filters")) {
      json::object_reader r(*f, "file_filters");
      reject_unknown_keys(r, {"excluded_dirs", "excluded_files"});
      out.excluded_dirs = strings_in(r, "excluded_dirs");
      out.excluded_files = strings_in(r, "excluded_files");
    }
    out.extensions = strings_in(root, "extensions");
    for (std::size_t i = 0; i < out.extensions.size(); ++i)
      if (out.extensions[i].size() < 2 || out.extensions[i][0] != '.')
        throw json::field_error("extensions[" + std::to_string(i) + "]",
                                "an extension with its dot, like \".cpp\"",
                                json::quote(out.extensions[i]));
    if (const auto* l = root.object("limits")) {
      json::object_reader r(*l, "limits");
      reject_unknown_keys(r, {"max_file_bytes", "max_files"});
      out.max_file_bytes = size_in(r, "max_file_bytes", out.max_file_bytes, 1, 1LL << 30);
      out.max_files = size_in(r, "max_files", out.max_files, 1, 100000000);
    }
    if (const auto* c = root.object("chunking")) {
      json::object_reader r(*c, "chunking");
      reject_unknown_keys(r, {"words", "overlap_words"});
      out.chunk_words = int_in(r, "words", out.chunk_words, 20, 100000);
      out.chunk_overlap_words =
          int_in(r, "overlap_words", out.chunk_overlap_words, 0, out.chunk_words / 2);
    }
  });
  return out;
}

config load_config(const load_options& options) {
  auto getenv = options.getenv ? options.getenv : default_getenv;
  namespace fs = std::filesystem;
  config cfg;
  fs::path dir;
  std::string askd_text = embedded_askd_json;
  cfg.source = "(embedded conf/askd.json)";
  if (!options.path.empty()) {
    fs::path p(options.path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      dir = p;
      if (fs::exists(p / "askd.json")) {
        askd_text = read_file(p / "askd.json");
        cfg.source = (p / "askd.json").string();
      }
    } else if (fs::exists(p, ec)) {
      dir = p.parent_path();
      askd_text = read_file(p);
      cfg.source = p.string();
    } else {
      throw config_error(options.path + ": no such file or directory");
    }
  }
  parse_server_config(askd_text, cfg.source, cfg);

  auto sibling = [&](const char* name, const char* embedded, std::string& source) {
    if (!dir.empty() && fs::exists(dir / name)) {
      source = (dir / name).string();
      return read_file(dir / name);
    }
    source = std::string("(embedded conf/") + name + ")";
    return std::string(embedded);
  };
  std::string gen_source, lang_source;
  auto gen_text = sibling("generator.json", embedded_generator_json, gen_source);
  cfg.generator = parse_generator_config(gen_text, gen_source, getenv);
  auto lang_text = sibling("lang.json", embedded_lang_json, lang_source);
  cfg.languages = parse_language_config(lang_text, lang_source);
  std::string repo_source;
  auto repo_text = sibling("repo.json", embedded_repo_json, repo_source);
  cfg.repo = parse_repo_config(repo_text, repo_source);
  std::string embedder_source;
  auto embedder_text = sibling("embedder.json", embedded_embedder_json, embedder_source);
  cfg.embedders = parse_embedder_config(embedder_text, embedder_source, getenv);

  if (options.host) cfg.server.host = *options.host;
  if (options.port) cfg.server.port = *options.port;
  if (options.data_dir) cfg.data_dir = *options.data_dir;
  if (options.log_level) {
    const auto& l = *options.log_level;
    if (l != "debug" && l != "info" && l != "warn" && l != "error")
      throw config_error("--log-level: expected one of debug, info, warn, error, got " + l);
    cfg.log.level = l;
  }
  cfg.data_dir = expand_home(cfg.data_dir, getenv);
  if (options.cluster_listen) cfg.cluster.listen = *options.cluster_listen;
  if (options.cluster_node) cfg.cluster.node = *options.cluster_node;
  if (options.cluster_seeds) {
    cfg.cluster.seeds.clear();
    std::string_view rest = *options.cluster_seeds;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto seed = rest.substr(0, comma);
      if (!seed.empty()) cfg.cluster.seeds.emplace_back(seed);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  check_cluster(cfg.source, cfg.cluster);
  cfg.upstream.cafile = checked_upstream_cafile(cfg.source, cfg.upstream.cafile, getenv);
  for (const auto& [id, limit] : cfg.limits.providers)
    if (!cfg.generator.find(id))
      throw config_error(cfg.source + ": limits.providers." + id +
                         ": expected \"default\" or one of the providers of " +
                         cfg.generator.source);
  for (const auto& dir : options.allow_local) cfg.repos.local_roots.push_back(dir);
  for (const auto& o : options.cors_origins) {
    if (!is_origin(o))
      throw config_error("--cors-origin: expected an origin like http://localhost:3000, got " +
                         json::quote(o));
    cfg.server.cors_origins.push_back(o);
  }
  // Roots are compared with canonical request paths, so they are made canonical too.
  for (auto& root : cfg.repos.local_roots) {
    std::error_code ec;
    auto canon = std::filesystem::canonical(expand_home(root, getenv), ec);
    if (ec || !std::filesystem::is_directory(canon))
      throw config_error("repos.local_roots: " + root + " is not a directory");
    root = canon.string();
  }
  return cfg;
}

}  // namespace askd::core
