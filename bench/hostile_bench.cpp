// hostile_bench — what attacks cost a running askd (issue 17), measured from outside:
//   hostile_bench bodies   --port P --pid PID --n N [--bytes B]
//       N connections each announce a B-byte body (Expect: 100-continue) and send all of
//       it but the last byte, then hold; prints how many askd let in, its RSS growth, and
//       how long a /health took meanwhile.
//   hostile_bench watchers --port P --pid PID --n N --stream ID
//       N connections attach to a finished v1 stream and stop reading after its first
//       event (4 KB receive buffers); prints askd's RSS growth per watcher.
//   hostile_bench glob
//       times rag::glob_match on the worst patterns found for the linear-time matcher.
// Plain blocking sockets and poll: the point is what askd holds, not client speed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "rag/glob.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

std::size_t rss_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

int connect_to(unsigned short port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n) {
    auto k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Reads until `needle` or 10 s; what was read.
std::string read_until(int fd, const std::string& needle) {
  std::string got;
  auto until = clock_type::now() + std::chrono::seconds(10);
  while (got.find(needle) == std::string::npos && clock_type::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

double health_ms(unsigned short port) {
  auto t0 = clock_type::now();
  int fd = connect_to(port);
  std::string req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  send_all(fd, req.data(), req.size());
  read_until(fd, "}");
  ::close(fd);
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

std::string arg(int argc, char** argv, const char* name, const char* fallback = "") {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

int bodies(unsigned short port, int pid, int n, std::size_t bytes) {
  auto before = rss_of(pid);
  std::vector<int> held;
  int refused = 0, other = 0;
  std::string body(bytes - 1, ' ');
  for (int i = 0; i < n; ++i) {
    int fd = connect_to(port);
    auto head = "POST /chat/completions/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                "application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                std::to_string(bytes) + "\r\n\r\n";
    send_all(fd, head.data(), head.size());
    auto got = read_until(fd, "\r\n\r\n");
    if (got.rfind("HTTP/1.1 100", 0) == 0 && send_all(fd, body.data(), body.size())) {
      held.push_back(fd);
      continue;
    }
    got.rfind("HTTP/1.1 503", 0) == 0 ? ++refused : ++other;
    ::close(fd);
  }
  double h = health_ms(port);
  auto after = rss_of(pid);
  std::printf("bodies=%d held=%zu refused_503=%d other=%d rss_before_mb=%.1f rss_after_mb=%.1f "
              "health_ms=%.2f\n",
              n, held.size(), refused, other, before / 1048576.0, after / 1048576.0, h);
  for (int fd : held) ::close(fd);
  return 0;
}

int watchers(unsigned short port, int pid, int n, const std::string& stream) {
  auto before = rss_of(pid);
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = connect_to(port, 4096);
    auto req = "GET /v1/streams/" + stream + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send_all(fd, req.data(), req.size());
    read_until(fd, "event: meta");
    fds.push_back(fd);
  }
  ::usleep(500000);  // let askd finish writing what it will into the full sockets
  auto after = rss_of(pid);
  double h = health_ms(port);
  std::printf("watchers=%d rss_before_mb=%.1f rss_after_mb=%.1f per_watcher_kb=%.1f health_ms=%.2f\n",
              n, before / 1048576.0, after / 1048576.0,
              (static_cast<double>(after) - static_cast<double>(before)) / n / 1024.0, h);
  for (int fd : fds) ::close(fd);
  return 0;
}

int globs() {
  struct bomb {
    const char* what;
    std::string pattern, path;
  };
  std::string deep_names;  // 16 components of 255 bytes: the longest path Linux allows
  for (int i = 0; i < 16; ++i) deep_names += std::string(255, 'a') + "/";
  std::string segment_bomb;
  for (int i = 0; i < 4; ++i) segment_bomb += "**/*" + std::string(120, 'a') + "b/";
  std::vector<bomb> bombs{
      {"\"*\"x20+\"ub\", 50-byte path (was 7 s)", std::string(20, '*') + "ub",
       std::string(50, 'u') + "x"},
      {"\"*\"x40+\"ub\", 50-byte path", std::string(40, '*') + "ub", std::string(50, 'u')},
      {"\"a*\"x30, 61-byte path", [] {
         std::string p;
         for (int i = 0; i < 30; ++i) p += "a*";
         return p;
       }(),
       std::string(60, 'a') + "b"},
      {"\"**/\"x170+\"x\", 2047-deep path", [] {
         std::string p;
         for (int i = 0; i < 170; ++i) p += "**/";
         return p + "x";
       }(),
       [] {
         std::string t;
         for (int i = 0; i < 2047; ++i) t += "d/";
         return t + "y";
       }()},
      {"**/*a..ab/ x4 (480 bytes), 16x255-byte path", segment_bomb, deep_names + "z"},
  };
  std::printf("| pattern | text | µs per match |\n|---|---|---|\n");
  for (const auto& b : bombs) {
    int rounds = 0;
    bool hit = false;
    auto t0 = clock_type::now();
    do {
      hit ^= askd::rag::glob_match(b.pattern, b.path);
      ++rounds;
    } while (clock_type::now() - t0 < std::chrono::milliseconds(300));
    double us = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / rounds;
    std::printf("| %s | %zu bytes | %.2f |\n", b.what, b.path.size(), us);
    (void)hit;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hostile_bench bodies|watchers|glob [--port P --pid PID ...]\n");
    return 2;
  }
  std::string mode = argv[1];
  auto port = static_cast<unsigned short>(std::stoi(arg(argc, argv, "--port", "8107")));
  int pid = std::stoi(arg(argc, argv, "--pid", "0"));
  int n = std::stoi(arg(argc, argv, "--n", "1000"));
  if (mode == "bodies")
    return bodies(port, pid, n, std::stoull(arg(argc, argv, "--bytes", "1048576")));
  if (mode == "watchers") return watchers(port, pid, n, arg(argc, argv, "--stream"));
  if (mode == "glob") return globs();
  std::fprintf(stderr, "hostile_bench: unknown mode %s\n", mode.c_str());
  return 2;
}
