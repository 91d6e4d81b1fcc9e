// net/http_server.hpp — the HTTP/1.1 + WebSocket server both askd and askmock sit on,
// behind an interface free of Beast and asio. A service gets each request with a
// `response` it may answer at once or stream from any thread; WebSocket upgrades get a
// `websocket`. Each connection runs on its own strand; every write goes through one
// bounded queue per connection; a client that stops reading past the bound is cut off.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace askd::net {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent: path and query
  std::string path;     // without the query
  std::string query;    // after '?', undecoded
  header_list headers;  // names lower-cased
  std::string body;
  std::string peer;  // "127.0.0.1:53412"

  // The first header of that (lower-case) name, or "".
  std::string_view header(std::string_view name) const;
  // A query parameter, percent-decoded, or "".
  std::string query_param(std::string_view name) const;
};

// The answer to one request. Thread-safe: every call is carried onto the connection's
// strand. Either send() once, or start() then write()* then finish().
class response {
 public:
  virtual ~response() = default;
  // Headers every reply to this request carries besides its own (askd's CORS headers);
  // called before the reply.
  virtual void add_headers(header_list headers) = 0;
  virtual void send(int status, std::string_view content_type, std::string body,
                    header_list extra = {}) = 0;
  // Starts a chunked response; `first`, when not empty, is the body's first chunk, sent
  // with the head in one write.
  virtual void start(int status, header_list headers, std::string_view first = {}) = 0;
  // Sent at once from the calling thread when the connection is idle, else queued.
  virtual void write(std::string_view chunk) = 0;
  virtual void finish() = 0;
  // Sends what was written, then drops the connection without the last chunk (a
  // truncated stream, as fault injection wants). on_disconnect is not called.
  virtual void abort() = 0;
  // Called once, on the strand, if the client goes away (or is cut off as too slow)
  // before the response is finished. Not called after finish().
  virtual void on_disconnect(std::function<void()> fn) = 0;
  // Runs `fn` on the strand once everything written so far has gone to the socket;
  // never inline from this call (the caller may hold a lock `fn` takes). Dropped when the
  // connection closes first. A writer that paces itself by this holds little memory.
  virtual void when_drained(std::function<void()> fn) = 0;
  // Runs `fn` on the connection's strand after `delay` (unless the connection is gone).
  virtual void after(std::chrono::microseconds delay, std::function<void()> fn) = 0;
};

// An accepted WebSocket. Thread-safe like response.
class websocket {
 public:
  virtual ~websocket() = default;
  virtual void send(std::string text) = 0;
  // Sends the close frame after everything queued before it.
  virtual void close(std::uint16_t code, std::string reason = {}) = 0;
  // As response::when_drained: `fn` on the strand once every frame sent so far is written.
  virtual void when_drained(std::function<void()> fn) = 0;
};

// Receives one WebSocket's messages, on its strand.
class websocket_handler {
 public:
  virtual ~websocket_handler() = default;
  virtual void on_text(std::string message) = 0;
  // The socket is gone (closed by either side, or failed). Called once.
  virtual void on_closed() = 0;
};

// What to do with a WebSocket upgrade request: refuse it with an HTTP status and
// detail, or accept it (optionally choosing a subprotocol) with a handler factory.
struct upgrade_decision {
  int status = 404;  // refusal status when `accept` is empty
  std::string detail = "Not Found";
  std::string subprotocol;
  bool deflate = false;  // negotiate permessage-deflate when the client offers it
  std::function<std::shared_ptr<websocket_handler>(std::shared_ptr<websocket>)> accept;
};

class service {
 public:
  virtual ~service() = default;
  // Called on the connection's strand; must not block.
  virtual void handle(request req, std::shared_ptr<response> res) = 0;
  virtual upgrade_decision upgrade(const request& req) = 0;
};

struct server_limits {
  std::size_t max_body_bytes = 1 << 20;
  // Request bodies and WebSocket messages being received at once, over every connection:
  // past it a request is refused (503) before its body is read, a message closes its
  // socket (1013). 0: no budget.
  std::size_t body_budget_bytes = 0;
  std::size_t max_connections = 10000;
  std::size_t write_queue_bytes = 1 << 20;
  std::chrono::milliseconds header_timeout{30000};
  std::chrono::milliseconds idle_timeout{120000};
  // A WebSocket that sent nothing (no frame, no pong) for half of this is pinged, and
  // closed when nothing came for all of it; also the limit for its opening handshake and
  // for the client's answer to a close.
  std::chrono::milliseconds ws_idle_timeout{30000};
};

class http_server {
 public:
  http_server(std::shared_ptr<service> svc, server_limits limits, int io_threads);
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and listens; returns the port (useful with port 0). Throws on failure.
  std::uint16_t listen(const std::string& host, std::uint16_t port);
  // Starts the io threads; returns at once.
  void run();
  // Stops accepting new connections; open ones go on.
  void stop_accepting();
  // Closes every connection and joins the io threads.
  void stop();

  std::size_t connections() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

std::string percent_decode(std::string_view s);

// Raises this process's open-file limit to its hard limit (each stream holds a client
// socket and an upstream socket); returns the new soft limit.
std::uint64_t raise_fd_limit();

}  // namespace askd::net
