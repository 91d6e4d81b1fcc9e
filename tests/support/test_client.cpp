#include "tests/support/test_client.hpp"

#include "core/json.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <cctype>
#include <stdexcept>

namespace askd::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ws = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint loopback(std::uint16_t port) {
  return {asio::ip::make_address("127.0.0.1"), port};
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Runs `body` as a coroutine on a private io_context; fails when the deadline passes.
template <class Body>
void run_with_deadline(std::chrono::seconds deadline, Body body) {
  asio::io_context ioc;
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
    done = true;
    failure = e;
  });
  ioc.run_for(deadline);
  if (failure) std::rethrow_exception(failure);
  if (!done) throw std::runtime_error("test client: deadline passed");
}

}  // namespace

std::string http_reply::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

http_reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::chrono::seconds deadline) {
  http_reply out;
  run_with_deadline(deadline, [&]() -> asio::awaitable<void> {
    beast::tcp_stream s(co_await asio::this_coro::executor);
    co_await s.async_connect(loopback(port), asio::use_awaitable);
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "127.0.0.1");
    // A chat is JSON; a test that means otherwise says so in `headers`.
    if (method == "POST") req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty() || method == "POST") req.prepare_payload();
    co_await http::async_write(s, req, asio::use_awaitable);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    co_await http::async_read(s, buf, parser, asio::use_awaitable);
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.chunked = res.chunked();
    for (const auto& f : res)
      out.headers[lower(std::string(f.name_string()))] = std::string(f.value());
    out.body = std::move(res.body());
    beast::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_both, ec);
  });
  return out;
}

ws_reply ws_converse(std::uint16_t port, const std::string& target, const std::string& subprotocol,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::vector<std::string>& first,
                     const std::function<ws_step(const std::string& frame)>& react,
                     std::chrono::seconds deadline, bool offer_deflate) {
  ws_reply out;
  run_with_deadline(deadline, [&]() -> asio::awaitable<void> {
    ws::stream<beast::tcp_stream> w(co_await asio::this_coro::executor);
    co_await beast::get_lowest_layer(w).async_connect(loopback(port), asio::use_awaitable);
    w.set_option(ws::stream_base::decorator([&](ws::request_type& req) {
      if (!subprotocol.empty()) req.set(http::field::sec_websocket_protocol, subprotocol);
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    if (offer_deflate) {
      ws::permessage_deflate pmd;
      pmd.client_enable = true;
      w.set_option(pmd);
    }
    ws::response_type res;
    try {
      co_await w.async_handshake(res, "127.0.0.1", target, asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
      if (e.code() != ws::error::upgrade_declined) throw;
      out.refused_status = static_cast<int>(res.result_int());
      co_return;
    }
    out.accepted = true;
    out.extensions = std::string(res[http::field::sec_websocket_extensions]);
    w.text(true);
    for (const auto& f : first) co_await w.async_write(asio::buffer(f), asio::use_awaitable);
    for (;;) {
      beast::flat_buffer buf;
      auto [ec, n] = co_await w.async_read(buf, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec == ws::error::closed) {
        out.close_code = w.reason().code;
        break;
      }
      if (ec) break;
      out.frames.push_back(beast::buffers_to_string(buf.data()));
      auto step = react(out.frames.back());
      for (const auto& f : step.send) co_await w.async_write(asio::buffer(f), asio::use_awaitable);
      if (step.stop) break;
    }
  });
  return out;
}

namespace {

// Opens a WebSocket, runs `act` on it, then reads until the server closes; the close code
// the server sent (0 when the socket ended without one).
template <class Act>
ws_reply ws_session_with(std::uint16_t port, const std::string& target,
                         const std::string& subprotocol, Act act) {
  ws_reply out;
  run_with_deadline(std::chrono::seconds(30), [&]() -> asio::awaitable<void> {
    ws::stream<beast::tcp_stream> w(co_await asio::this_coro::executor);
    co_await beast::get_lowest_layer(w).async_connect(loopback(port), asio::use_awaitable);
    w.set_option(ws::stream_base::decorator([&](ws::request_type& req) {
      if (!subprotocol.empty()) req.set(http::field::sec_websocket_protocol, subprotocol);
    }));
    co_await w.async_handshake("127.0.0.1", target, asio::use_awaitable);
    out.accepted = true;
    co_await act(w);
    for (;;) {
      beast::flat_buffer buf;
      auto [ec, n] = co_await w.async_read(buf, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec == ws::error::closed) out.close_code = w.reason().code;
      if (ec) break;
      out.frames.push_back(beast::buffers_to_string(buf.data()));
    }
  });
  return out;
}

}  // namespace

ws_reply ws_binary(std::uint16_t port, const std::string& target, const std::string& subprotocol,
                   const std::string& bytes) {
  return ws_session_with(port, target, subprotocol,
                         [&](ws::stream<beast::tcp_stream>& w) -> asio::awaitable<void> {
                           w.binary(true);
                           co_await w.async_write(asio::buffer(bytes), asio::use_awaitable);
                         });
}

ws_reply ws_close_with(std::uint16_t port, const std::string& target, std::uint16_t code) {
  ws_reply out;
  run_with_deadline(std::chrono::seconds(30), [&]() -> asio::awaitable<void> {
    ws::stream<beast::tcp_stream> w(co_await asio::this_coro::executor);
    co_await beast::get_lowest_layer(w).async_connect(loopback(port), asio::use_awaitable);
    co_await w.async_handshake("127.0.0.1", target, asio::use_awaitable);
    out.accepted = true;
    // async_close sends ours and reads until the server's close frame (or the end).
    auto [ec] = co_await w.async_close(ws::close_reason(static_cast<ws::close_code>(code)),
                                       asio::as_tuple(asio::use_awaitable));
    if (!ec) out.close_code = w.reason().code;
  });
  return out;
}

ws_reply ws_call(std::uint16_t port, const std::string& target, const std::string& first,
                 std::chrono::seconds deadline) {
  return ws_converse(
      port, target, "", {}, {first}, [](const std::string&) { return ws_step{}; }, deadline);
}

std::string json_field(const std::string& json, const char* name) {
  rapidjson::Document d;
  if (!core::json::try_parse(json, d) || !d.IsObject()) return {};
  auto it = d.FindMember(name);
  if (it == d.MemberEnd()) return {};
  if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  return it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                              : std::string();
}

std::string sse_text(const std::vector<sse_event>& events) {
  std::string text;
  for (const auto& e : events)
    if (e.event == "delta") text += json_field(e.data, "text");
  return text;
}

std::vector<sse_event> parse_sse(const std::string& body) {
  std::vector<sse_event> out;
  std::size_t at = 0;
  while (at < body.size()) {
    auto end = body.find("\n\n", at);
    if (end == std::string::npos) break;
    sse_event e;
    bool any = false;
    std::size_t line = at;
    while (line < end) {
      auto nl = body.find('\n', line);
      if (nl == std::string::npos || nl > end) nl = end;
      auto text = body.substr(line, nl - line);
      auto field = [&](const char* name) {
        auto n = std::strlen(name);
        return text.compare(0, n, name) == 0 ? std::optional<std::string>(text.substr(n))
                                             : std::nullopt;
      };
      if (auto v = field("id: ")) e.id = *v, any = true;
      if (auto v = field("event: ")) e.event = *v, any = true;
      if (auto v = field("data: ")) e.data = *v, any = true;
      line = nl + 1;
    }
    if (any) out.push_back(std::move(e));
    at = end + 2;
  }
  return out;
}

raw_connection::raw_connection(std::uint16_t port, int rcvbuf) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ >= 0 && rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("raw_connection: cannot connect");
}

raw_connection::~raw_connection() {
  close();
}

void raw_connection::send(const std::string& bytes) {
  if (!try_send(bytes)) throw std::runtime_error("raw_connection: send failed");
}

bool raw_connection::try_send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::size_t resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::size_t resident_growth_since(std::size_t before) {
  auto now = resident_bytes();
  return now > before ? now - before : 0;
}

std::string nginx_binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string raw_connection::read_until(const std::string& needle,
                                       std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (got_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    got_.append(buf, static_cast<std::size_t>(n));
  }
  return got_;
}

std::string raw_connection::read_all(std::chrono::milliseconds deadline) {
  return read_until(std::string("\0never\0", 7), deadline);
}

bool raw_connection::closed_by_peer(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
    got_.append(buf, static_cast<std::size_t>(n));
  }
}

void raw_connection::reset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

void raw_connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string post_bytes(const std::string& target, const std::string& body) {
  return "POST " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string raw_ws_upgrade(raw_connection& c, const std::string& target) {
  c.send("GET " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  return c.read_until("\r\n\r\n", std::chrono::seconds(10));
}

std::string client_ws_frame(unsigned opcode, const std::string& payload) {
  std::string frame;
  frame += static_cast<char>(0x80 | opcode);
  auto n = payload.size();
  if (n < 126) {
    frame += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    frame += static_cast<char>(0x80 | 126);
    for (int shift = 8; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
  } else {
    frame += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
  }
  const char mask[4] = {1, 2, 3, 4};
  frame.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  return frame;
}

std::string shell_quote(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

run_result run_command(const std::string& command) {
  run_result r;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace askd::test
