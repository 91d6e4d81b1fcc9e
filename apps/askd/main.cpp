// askd — the server. Reads conf (embedded defaults unless --config), applies flags,
// serves until SIGINT/SIGTERM, then drains for server.shutdown_grace_ms.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/config.hpp"
#include "core/log.hpp"
#include "net/askd_server.hpp"
#include "net/http_server.hpp"

namespace {

constexpr const char* usage =
    "usage: askd [options]\n"
    "  --config PATH      askd.json, or a directory with askd.json, generator.json, lang.json\n"
    "                     (default: the configuration compiled into askd)\n"
    "  --host ADDR        listen address (default from config: 127.0.0.1)\n"
    "  --port N           listen port, 0 for any free port (default from config: 8001)\n"
    "  --data-dir DIR     where repositories and indexes are kept (default ~/.askd)\n"
    "  --allow-local DIR  serve local repositories under DIR (repeatable; adds to\n"
    "                     repos.local_roots)\n"
    "  --cors-origin URL  a browser origin that may call askd, e.g. http://localhost:3000\n"
    "                     for deepwiki-open's frontend (repeatable; adds to server.cors_origins)\n"
    "  --log-level L      debug, info, warn or error\n"
    "  --cluster-listen HOST:PORT   join a cluster: where other nodes reach this one\n"
    "  --cluster-seeds H:P,H:P      nodes to join through (any one that answers)\n"
    "  --cluster-node NAME          this node's name (default from the listen address)\n"
    "  --version          print the version and exit\n"
    "  --help             this text\n";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

[[noreturn]] void die_usage(const std::string& msg) {
  std::fprintf(stderr, "askd: %s\n%s", msg.c_str(), usage);
  std::exit(2);
}

askd::core::load_options parse_args(int argc, char** argv) {
  askd::core::load_options o;
  o.getenv = &env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    auto eq = a.find('=');
    bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto next = [&]() -> std::string {
      if (inline_value) return value;
      if (i + 1 >= argc) die_usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--version") {
      std::printf("askd %s\n", ASKD_VERSION);
      std::exit(0);
    } else if (a == "--config") {
      o.path = next();
    } else if (a == "--host") {
      o.host = next();
    } else if (a == "--port") {
      auto v = next();
      char* end = nullptr;
      long p = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || p < 0 || p > 65535)
        die_usage("--port: expected 0 to 65535, got \"" + v + "\"");
      o.port = static_cast<std::uint16_t>(p);
    } else if (a == "--allow-local") {
      o.allow_local.push_back(next());
    } else if (a == "--cors-origin") {
      o.cors_origins.push_back(next());
    } else if (a == "--data-dir") {
      o.data_dir = next();
    } else if (a == "--cluster-listen") {
      o.cluster_listen = next();
    } else if (a == "--cluster-seeds") {
      o.cluster_seeds = next();
    } else if (a == "--cluster-node") {
      o.cluster_node = next();
    } else if (a == "--log-level") {
      auto v = next();
      if (v != "debug" && v != "info" && v != "warn" && v != "error")
        die_usage("--log-level: expected debug, info, warn or error, got \"" + v + "\"");
      o.log_level = v;
    } else {
      die_usage("unknown option " + a);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_args(argc, argv);

  // Every thread started from here on inherits the mask; main waits for the signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  askd::core::config cfg;
  try {
    cfg = askd::core::load_config(options);
  } catch (const askd::core::config_error& e) {
    std::fprintf(stderr, "askd: %s\n", e.what());
    return 2;
  }
  askd::core::set_log_level(askd::core::parse_log_level(cfg.log.level));

  try {
    auto fd_limit = askd::net::raise_fd_limit();
    askd::net::askd_server server(cfg);
    auto port = server.start();
    const auto* def = cfg.generator.find(cfg.generator.default_provider);
    askd::core::log_info("listening")
        .kv("version", ASKD_VERSION)
        .kv("addr", cfg.server.host + ":" + std::to_string(port))
        .kv("config", cfg.source)
        .kv("fd_limit", fd_limit)
        .kv("io_threads", static_cast<std::int64_t>(server.io_threads()))
        .kv("curl_threads", static_cast<std::uint64_t>(server.upstream_threads()))
        .kv("default_provider", cfg.generator.default_provider)
        .kv("base_url", def ? def->base_url : "")
        .kv("key_env", def ? def->api_key_env : "")
        .kv("key_set", def ? (def->api_key_env.empty() || !def->api_key.empty()) : false);
    for (const auto& root : cfg.repos.local_roots)
      askd::core::log_info("local root").kv("dir", root);
    // askd's own page, at the address a browser on this machine can open.
    auto host = cfg.server.host;
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    askd::core::log_info("web page").kv("url", "http://" + host + ":" + std::to_string(port) + "/");
    if (fd_limit < cfg.server.max_connections + 64)
      askd::core::log_warn("fd limit below what max_connections needs")
          .kv("fd_limit", fd_limit)
          .kv("max_connections", static_cast<std::uint64_t>(cfg.server.max_connections))
          .kv("effect", "past the limit new connections fail; raise ulimit -n");
    // Only the providers askd would pick by itself warn: the others are simply not set up.
    for (const auto& p : cfg.generator.providers) {
      if (p.api_key_env.empty() || !p.api_key.empty()) continue;
      const auto& f = cfg.generator.fallback;
      bool chosen =
          p.id == cfg.generator.default_provider || std::find(f.begin(), f.end(), p.id) != f.end();
      (chosen ? askd::core::log_warn("provider without key")
              : askd::core::log_info("provider without key"))
          .kv("provider", p.id)
          .kv("key_env", p.api_key_env)
          .kv("effect", "requests to it answer 401 until the variable is set and askd restarted");
    }
    int sig = 0;
    sigwait(&stop_signals, &sig);
    askd::core::log_info("stopping").kv("signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
    askd::core::log_info("stopped");
  } catch (const askd::core::config_error& e) {
    std::fprintf(stderr, "askd: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "askd: cannot start: %s\n", e.what());
    return 1;
  }
  return 0;
}
