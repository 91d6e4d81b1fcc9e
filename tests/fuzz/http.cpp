// askd's request path as a client drives it: each input is written to a fresh
// connection of an askd running in this process (loopback, the offline local provider,
// the fixture repository allowed), then the write side is closed and the answer read to
// its end. HTTP parsing, the policies, routing, admission, the faces, the WebSocket
// handshake and frames: whatever the bytes reach. An input that leaves askd unable to
// answer /health afterwards is a failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/log.hpp"
#include "net/askd_server.hpp"
#include "tests/support/embedded_config.hpp"

namespace {

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) __builtin_trap();
  return fd;
}

// Writes `bytes`, closes the write side, reads until askd closes or `ms` pass.
std::string exchange(std::uint16_t port, std::string_view bytes, int ms) {
  int fd = connect_to(port);
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string got;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got;
}

// The server: started on the first input and kept for the whole run (the process exits
// without stopping it). Held here, so LeakSanitizer sees it reachable, not leaked.
askd::net::askd_server* server = nullptr;

std::uint16_t askd_port() {
  static std::uint16_t port = [] {
    askd::core::set_log_level(askd::core::log_level::error);
    auto cfg = askd::test::embedded_config({ASKD_FIXTURES});
    cfg.server.port = 0;
    cfg.server.shutdown_grace_ms = 0;
    cfg.server.header_timeout_ms = 500;
    cfg.engine.workers = 1;
    cfg.data_dir = (std::filesystem::temp_directory_path() / "askd-fuzz-http").string();
    server = new askd::net::askd_server(std::move(cfg));
    return server->start();
  }();
  return port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto port = askd_port();
  exchange(port, std::string_view(reinterpret_cast<const char*>(data), size), 300);
  auto health = exchange(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5000);
  if (health.rfind("HTTP/1.1 200", 0) != 0) __builtin_trap();
  return 0;
}
