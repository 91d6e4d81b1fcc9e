// askmock — a mock LLM upstream for tests and benchmarks. See mock_service.hpp for the
// directives; `askmock --port 9100` then point a provider's base_url at
// http://127.0.0.1:9100/v1.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "apps/askmock/mock_service.hpp"
#include "net/http_server.hpp"

namespace {
constexpr const char* usage =
    "usage: askmock [--host ADDR] [--port N] [--threads N] [--require-key KEY]\n"
    "  serves streamed chat in each provider's wire format: OpenAI at POST\n"
    "  .../chat/completions (Azure at .../openai/deployments/D/chat/completions?api-version=V),\n"
    "  Gemini at .../models/M:streamGenerateContent?alt=sse, Anthropic at .../messages,\n"
    "  Ollama at .../api/chat;\n"
    "  counters at GET /_mock/stats, the last request at GET /_mock/last.\n"
    "  Prints the bound port on stdout (useful with --port 0).\n";

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "askmock: %s\n%s", msg.c_str(), usage);
  std::exit(2);
}

int to_int(const std::string& flag, const char* v, int lo, int hi) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!*v || *end || n < lo || n > hi)
    die(flag + ": expected " + std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(n);
}
}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9100;
  int threads = 1;
  askmock::mock_options options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      return 0;
    } else if (a == "--host") {
      host = value();
    } else if (a == "--port") {
      port = to_int(a, value(), 0, 65535);
    } else if (a == "--threads") {
      threads = to_int(a, value(), 1, 64);
    } else if (a == "--require-key") {
      options.require_key = value();
    } else {
      die("unknown option " + a);
    }
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  askd::net::raise_fd_limit();
  askd::net::server_limits limits;
  limits.max_body_bytes = 64 << 20;
  limits.max_connections = 100000;
  askd::net::http_server server(std::make_shared<askmock::mock_service>(options), limits, threads);
  std::uint16_t bound = 0;
  try {
    bound = server.listen(host, static_cast<std::uint16_t>(port));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "askmock: cannot listen on %s:%d: %s\n", host.c_str(), port, e.what());
    return 1;
  }
  server.run();
  std::printf("%u\n", bound);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server.stop();
  return 0;
}
