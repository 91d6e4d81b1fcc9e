#include "tests/support/fake_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace askd::test {
namespace {

int listen_loopback(std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0)
    throw std::runtime_error("fake server: cannot listen");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// Waits up to 50 ms for `fd` to be readable; false when it is not (or on stop).
bool readable(int fd, int ms = 50) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

void send_all(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

std::string chunked_reply(int status, const std::vector<std::string>& chunks, bool end,
                          const std::string& extra_headers) {
  std::string r = "HTTP/1.1 " + std::to_string(status) +
                  " X\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n" +
                  extra_headers + "\r\n";
  char size[32];
  for (const auto& c : chunks) {
    std::snprintf(size, sizeof size, "%zx\r\n", c.size());
    r += size + c + "\r\n";
  }
  if (end) r += "0\r\n\r\n";
  return r;
}

scripted_server::scripted_server(std::vector<std::string> script) : script_(std::move(script)) {
  listen_fd_ = listen_loopback(port_);
  thread_ = std::thread([this] { serve(); });
}

scripted_server::~scripted_server() {
  stop_ = true;
  thread_.join();
  for (int fd : held_) ::close(fd);
  ::close(listen_fd_);
}

std::vector<std::string> scripted_server::heads() const {
  std::lock_guard lock(mu_);
  return heads_;
}

void scripted_server::serve() {
  while (!stop_) {
    if (!readable(listen_fd_)) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    int i = connections_++;
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && !stop_) {
      if (!readable(fd)) continue;
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard lock(mu_);
      heads_.push_back(head);
    }
    const auto& reply =
        script_[std::min<std::size_t>(static_cast<std::size_t>(i), script_.size() - 1)];
    if (reply.empty()) {
      held_.push_back(fd);
      continue;
    }
    send_all(fd, reply);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }
}

cutting_proxy::cutting_proxy(std::uint16_t to, int cuts, std::size_t after_bytes)
    : to_(to), cuts_(cuts), after_(after_bytes) {
  listen_fd_ = listen_loopback(port_);
  thread_ = std::thread([this] { serve(); });
}

cutting_proxy::~cutting_proxy() {
  stop_ = true;
  thread_.join();
  for (auto& t : relays_) t.join();
  ::close(listen_fd_);
}

void cutting_proxy::serve() {
  int accepted = 0;
  while (!stop_) {
    if (!readable(listen_fd_)) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    bool cut = accepted++ < cuts_;
    relays_.emplace_back([this, fd, cut] { relay(fd, cut); });
  }
}

void cutting_proxy::relay(int client, bool cut) {
  int server = connect_loopback(to_);
  if (server < 0) return void(::close(client));
  std::size_t to_client = 0;
  char buf[16384];
  bool open = true;
  while (open && !stop_) {
    pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(p, 2, 50) <= 0) continue;
    for (int k = 0; k < 2 && open; ++k) {
      if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = p[k].fd, to = k == 0 ? server : client;
      std::size_t room = sizeof buf;
      if (k == 1 && cut) room = std::min(room, after_ - to_client);
      auto n = room ? ::recv(from, buf, room, 0) : 0;
      if (n <= 0) {
        open = false;
        break;
      }
      send_all(to, std::string(buf, static_cast<std::size_t>(n)));
      if (k == 1) to_client += static_cast<std::size_t>(n);
      if (k == 1 && cut && to_client >= after_) {
        ++cut_;
        open = false;
      }
    }
  }
  ::close(client);
  ::close(server);
}

}  // namespace askd::test
