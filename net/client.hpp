// net/client.hpp — the client side of askd's faces, for `ask`, `askload` and anyone
// embedding askd: one streamed question per `start()`, on the caller's io_context.
//
// Transport: WebSocket first, HTTP streaming when the socket cannot open within
// `ws_open_timeout`, is refused, or fails before the first chunk (transport::automatic).
// Retries: network failures and refusals (429/503) before any text, with `backoff`
// (1 s, 2 s, 4 s; a Retry-After longer than the step wins, up to `max_retry_after`);
// never a bad request or an authentication failure. Once text has arrived a request is
// never sent again: a v1 stream resumes from its last event id instead, so nothing is
// lost or repeated; a compat stream ends with the failure.
//
// Faces: compat (deepwiki-open's raw-text HTTP and WS), v1 (SSE and the askd.v1
// socket), and openai (an OpenAI-compatible upstream such as askmock, or a byte relay in
// front of one; HTTP only) so askload can measure what sits behind a relay.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace askd::client {

enum class face : std::uint8_t { compat, v1, openai };
enum class transport : std::uint8_t { automatic, websocket, http };

// How a call ended, in classes a script can act on.
enum class outcome : std::uint8_t {
  ok,
  bad_request,   // 400, 404, 413 and other 4xx: the request is wrong; retrying will not help
  unauthorized,  // 401: missing or wrong API key
  forbidden,     // 403: the repo (or path) is not allowed
  refused,       // 429 or 503: busy or draining; Retry-After says when to come back
  server_error,  // the server reported an error (in-band `Error:`, a v1 `error` event, 5xx)
  network,       // could not connect, or the connection broke
  timeout,       // nothing arrived for idle_timeout (or connect_timeout)
  protocol,      // the answer was not in the face's format
  cancelled,     // cancel() was called
};
std::string_view name(outcome o);
std::string_view name(transport t);

struct server {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8001;
  std::string api_key;    // sent as `Authorization: Bearer <key>` when set
  std::string http_path;  // "" = the face's default (/chat/completions/stream, /v1/chat/stream,
                          // /v1/chat/completions)
  std::string ws_path;    // "" = /ws/chat
};
// "http://host[:port][/path]" (or "host:port"); the path, when given, overrides the HTTP
// path. Throws std::invalid_argument with a one-line reason.
server parse_server(std::string_view url);
// Whether `host` is a loopback name or address (askload's default bound).
bool is_loopback(std::string_view host);

struct options {
  face kind = face::compat;
  transport via = transport::automatic;
  std::chrono::milliseconds ws_open_timeout{1000};  // automatic: give up on the socket after this
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds idle_timeout{120000};  // nothing received this long: timeout
  std::vector<std::chrono::milliseconds> backoff{std::chrono::seconds(1), std::chrono::seconds(2),
                                                 std::chrono::seconds(4)};  // one per retry
  std::chrono::milliseconds max_retry_after{30000};
};

struct result {
  outcome what = outcome::ok;
  int status = 0;       // the HTTP status the server answered with, when it did
  std::string message;  // one line for a person
  std::string code;     // the server's error code (v1 `error` event or JSON detail), if any
  std::chrono::milliseconds retry_after{-1};
  transport used = transport::http;  // what carried the last attempt
  bool fell_back = false;            // WebSocket failed; HTTP carried the request
  int attempts = 0;                  // connections made for this call (first, retries, resumes)
  int resumes = 0;                   // v1 resumes after the text had started
  bool text_seen = false;
  std::string stream_id;      // v1
  std::string finish_reason;  // v1 `done`
};

// What a call reports, on its own strand of the io_context, in this order per attempt:
// on_connected, on_response, on_text/on_event..., then on_retry or (once) on_finish.
class observer {
 public:
  virtual ~observer() = default;
  virtual void on_connected() {}  // TCP connected (and, for WebSocket, the upgrade accepted)
  virtual void on_response() {}   // the first byte of the answer (status line or first frame)
  virtual void on_text(std::string_view text) = 0;
  // v1 events other than delta: `data` is the event's JSON.
  virtual void on_event(std::string_view /*type*/, std::string_view /*data*/) {}
  virtual void on_retry(const result& /*failed*/, std::chrono::milliseconds /*delay*/) {}
  virtual void on_finish(const result& r) = 0;
};

class call {
 public:
  virtual ~call() = default;
  // Stops the call from any thread; a v1 stream is also cancelled on the server (no more
  // tokens paid for). on_finish follows with outcome::cancelled unless it already ran.
  virtual void cancel() = 0;
  // Closes the current connection from any thread, as a network failure would (a load
  // test of resuming): a v1 stream with an id resumes if retries are allowed; anything
  // else ends as `network`.
  virtual void drop_connection() = 0;
};

// Starts one streamed question. `body` is the request JSON (PROTOCOL.md's schema, or an
// OpenAI chat request for face::openai). The call keeps itself alive until on_finish.
std::shared_ptr<call> start(boost::asio::io_context& io, const server& to, std::string body,
                            const options& opts, std::shared_ptr<observer> obs);

}  // namespace askd::client
