// tests/support/test_client.hpp — a small blocking HTTP/WebSocket client for the
// end-to-end tests (the real client library is net/'s, issue 6). Every call has a
// deadline so a broken server fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace askd::test {

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool chunked = false;
  std::string header(const std::string& name) const;
};

// One request on a fresh connection; reads the whole response (chunked or not).
http_reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                     std::chrono::seconds deadline = std::chrono::seconds(30));

struct ws_reply {
  bool accepted = false;
  int refused_status = 0;           // when the upgrade was refused
  std::vector<std::string> frames;  // text frames in order
  int close_code = 0;               // 0 when the socket ended without a close frame
  std::string extensions;           // the server's Sec-WebSocket-Extensions
};

// Opens a WebSocket, sends `first` as a text frame, reads frames until the close.
ws_reply ws_call(std::uint16_t port, const std::string& target, const std::string& first,
                 std::chrono::seconds deadline = std::chrono::seconds(30));

// A WebSocket conversation: opens with `subprotocol` (and `headers`), sends `first`,
// then for each text frame received calls `react`, which returns frames to send back and
// whether to stop reading.
struct ws_step {
  std::vector<std::string> send;
  bool stop = false;
};
ws_reply ws_converse(std::uint16_t port, const std::string& target, const std::string& subprotocol,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::vector<std::string>& first,
                     const std::function<ws_step(const std::string& frame)>& react,
                     std::chrono::seconds deadline = std::chrono::seconds(30),
                     bool offer_deflate = false);

// Opens a WebSocket and sends `bytes` as one binary frame; reads until the close.
ws_reply ws_binary(std::uint16_t port, const std::string& target, const std::string& subprotocol,
                   const std::string& bytes);
// Opens a WebSocket and closes it with `code`; close_code is what the server answered with.
ws_reply ws_close_with(std::uint16_t port, const std::string& target, std::uint16_t code);

// One Server-Sent Event as read from a stream.
struct sse_event {
  std::string id, event, data;
};
// The events of an SSE body (comments and `retry:` lines skipped).
std::vector<sse_event> parse_sse(const std::string& body);
// The answer's text: the `text` of every `delta` event, in order.
std::string sse_text(const std::vector<sse_event>& events);
// A string or integer member of a JSON object's text, as text ("" when missing or another type).
std::string json_field(const std::string& json, const char* name);

// A raw connection for tests that misbehave on purpose (leave mid-stream, send junk).
class raw_connection {
 public:
  // `rcvbuf` > 0 shrinks the socket's receive buffer (a client that reads slowly fills fast).
  explicit raw_connection(std::uint16_t port, int rcvbuf = 0);
  ~raw_connection();
  void send(const std::string& bytes);
  // As send(), but false instead of throwing when the peer has closed or reset.
  bool try_send(const std::string& bytes);
  // Reads until `needle` has been seen (or the deadline, or EOF); returns all read so far.
  std::string read_until(const std::string& needle, std::chrono::milliseconds deadline);
  // Reads until the peer closes; returns what was read.
  std::string read_all(std::chrono::milliseconds deadline);
  // Reads until the peer closes (true: EOF or a reset) or the deadline passes (false).
  bool closed_by_peer(std::chrono::milliseconds deadline);
  void close();
  // Closes with a reset (SO_LINGER 0): the server's next write to it fails at once.
  void reset();

 private:
  int fd_ = -1;
  std::string got_;
};

// This process's resident memory, in bytes (VmRSS).
std::size_t resident_bytes();
// How much it grew since `before` (a resident_bytes() reading): 0 when it shrank (memory
// given back meanwhile), not the huge number an unsigned difference would be.
std::size_t resident_growth_since(std::size_t before);

// Whether this is the sanitizer build (AddressSanitizer): code runs several times slower
// and RSS grows by ASan's own rules (shadow memory, a quarantine of freed blocks).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif
#else
inline constexpr bool under_asan = false;
#endif
// RSS bounds are checked in the main build; the sanitizer build checks the same runs
// for errors.
inline constexpr bool rss_is_meaningful = !under_asan;
// How much longer to wait for heavy work (megabytes through askmock and askd).
inline constexpr int slowdown = under_asan ? 5 : 1;

// A shell command line's stdout and exit code (-1 when it did not exit normally): for
// tests that run askd's programs (ask, askload, askd itself) or tools (openssl).
struct run_result {
  int code = -1;
  std::string out;
};
run_result run_command(const std::string& command);
// `text` as one single-quoted shell word.
std::string shell_quote(const std::string& text);

// A port free on 127.0.0.1 right now (for a server that must know its port before it starts).
std::uint16_t free_port();

// Debian's nginx, "" when it is not installed (./dev test installs nginx-light).
std::string nginx_binary();

// A POST request's bytes, ready for raw_connection::send.
std::string post_bytes(const std::string& target, const std::string& body);
// A WebSocket upgrade of `target` sent on a raw connection (a fixed key), and the
// server's answer up to the end of its headers.
std::string raw_ws_upgrade(raw_connection& c, const std::string& target);
// A client's WebSocket frame (final, masked as a client's must be) of `opcode` with
// `payload`, any size.
std::string client_ws_frame(unsigned opcode, const std::string& payload);

// Polls `cond` every millisecond until it holds or `deadline` passes; returns whether it held.
template <class F>
bool eventually(F cond, std::chrono::milliseconds deadline = std::chrono::milliseconds(5000)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace askd::test
