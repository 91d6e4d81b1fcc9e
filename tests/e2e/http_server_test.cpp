// The HTTP server under askd and askmock, driven by a service of the test's own: what a
// producer may rely on when it calls a response.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "net/http_server.hpp"
#include "tests/support/test_client.hpp"

using namespace askd;
using namespace askd::test;

namespace {

const std::string get_root = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// Starts a chunked response, then (on the connection's strand, once the client has reset)
// writes to it while a producer's flag is up — as a stream hub catching a watcher up
// writes inside its lock. The disconnect callback records whether it ran inside that write.
struct reentry_service : net::service {
  std::mutex m;
  std::condition_variable cv;
  bool client_reset = false;
  std::atomic<bool> writing{false};
  std::atomic<int> disconnects{0};
  std::atomic<int> reentered{0};

  void handle(net::request, std::shared_ptr<net::response> res) override {
    res->start(200, {{"Content-Type", "text/plain"}});
    res->write("first");
    res->on_disconnect([this] {
      if (writing) ++reentered;
      ++disconnects;
    });
    res->after(std::chrono::microseconds(0), [this, res] {
      std::unique_lock lock(m);
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return client_reset; });
      writing = true;
      // The first finds the reset connection from the caller's thread; the second goes
      // through the strand's queue, which sends at once and finds it too.
      res->write(std::string(256 * 1024, 'x'));
      res->write(std::string(256 * 1024, 'y'));
      writing = false;
    });
  }
  net::upgrade_decision upgrade(const net::request&) override { return {}; }
};

}  // namespace

TEST_CASE("a write that finds its client gone tells the service later - not inside the write") {
  auto svc = std::make_shared<reentry_service>();
  net::http_server server(svc, net::server_limits{}, 1);
  auto port = server.listen("127.0.0.1", 0);
  server.run();
  raw_connection c(port);
  c.send(get_root);
  REQUIRE(c.read_until("first", std::chrono::seconds(10)).find("first") != std::string::npos);
  c.reset();
  {
    std::lock_guard lock(svc->m);
    svc->client_reset = true;
  }
  svc->cv.notify_all();
  REQUIRE(eventually([&] { return svc->disconnects == 1; }));
  CHECK(svc->reentered == 0);
}

namespace {
// Answers every request with a short 200, keeping the connection.
struct ok_service : net::service {
  void handle(net::request, std::shared_ptr<net::response> res) override {
    res->send(200, "text/plain", "ok");
  }
  net::upgrade_decision upgrade(const net::request&) override { return {}; }
};

net::server_limits short_timeouts() {
  net::server_limits l;
  l.header_timeout = std::chrono::milliseconds(200);
  l.idle_timeout = std::chrono::milliseconds(1000);
  return l;
}

// A server of ok_service with those limits, listening and running.
struct short_limits_server {
  explicit short_limits_server(int io_threads = 1)
      : server(std::make_shared<ok_service>(), short_timeouts(), io_threads),
        port(server.listen("127.0.0.1", 0)) {
    server.run();
  }
  net::http_server server;
  std::uint16_t port;
};

// A client that sends `bytes` and then nothing: the server closes its connection and
// forgets it. Waits up to 20 s for the close, far past the 200 ms and 1 s limits, so a
// slow machine does not fail it; a server without the limit does.
void closed_when_left_waiting(const std::string& bytes) {
  short_limits_server s;
  raw_connection c(s.port);
  c.send(bytes);
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
}

}  // namespace

// A slow-loris client: headers trickled, never finished. The server must not keep its
// connection (and its parser) open for ever.
TEST_CASE("a request whose headers never end is closed at the header timeout") {
  closed_when_left_waiting("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
}

TEST_CASE("with four io threads, slow clients are closed and a stop during sweeps is clean") {
  // The sweep runs on any io thread while the connections' strands run on the others;
  // the server stops while it may be sweeping.
  short_limits_server s(4);
  std::vector<std::unique_ptr<raw_connection>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<raw_connection>(s.port));
    slow.back()->send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  }
  for (auto& c : slow) CHECK(c->closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
  s.server.stop();
}

TEST_CASE("a body that never arrives is closed at the header timeout") {
  closed_when_left_waiting(
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nonly part");
}

TEST_CASE("a keep-alive connection with no next request is closed at the idle timeout") {
  short_limits_server s;
  raw_connection c(s.port);
  c.send(get_root);
  REQUIRE(c.read_until("\r\n\r\nok", std::chrono::seconds(10)).find("200") != std::string::npos);
  // Answered, then nothing: the limit between requests is the idle one (1 s), not the
  // header one (200 ms). The connection cannot close before it: no timing makes this
  // flaky.
  CHECK_FALSE(c.closed_by_peer(std::chrono::milliseconds(400)));
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
}

TEST_CASE("a client that keeps sending requests in time is not cut off") {
  short_limits_server s;
  raw_connection c(s.port);
  // Four requests 300 ms apart: each gap past the header limit (200 ms; it does not
  // apply between requests) and within the idle limit (1 s) of the answer before,
  // together past it (the limit starts again with each request).
  auto answers = [](const std::string& got) {
    std::size_t n = 0;
    for (auto at = got.find("HTTP/1.1 200"); at != std::string::npos;
         at = got.find("HTTP/1.1 200", at + 1))
      ++n;
    return n;
  };
  for (std::size_t i = 1; i <= 4; ++i) {
    c.send(get_root);
    REQUIRE(eventually([&] {
      return answers(c.read_until(std::string("\0", 1), std::chrono::milliseconds(20))) == i;
    }));
    CHECK_FALSE(c.closed_by_peer(std::chrono::milliseconds(300)));
  }
}

namespace {

// How many times `part` occurs in `text`.
std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}
// Reads until `part` has come `n` times (or 20 s passed, or the peer closed); all read.
std::string read_until_count(raw_connection& c, const std::string& part, std::size_t n) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string got;
  const std::string never("\0never\0", 7);
  while (count_of(got = c.read_until(never, std::chrono::milliseconds(20)), part) < n &&
         std::chrono::steady_clock::now() < until) {
  }
  return got;
}

// Streams every request's answer as producers do, from outside the connection's strand:
// "/hold" starts and writes "first", then waits for finish_held() (called from the test's
// thread); "/first" and "/first-later" start with a first chunk "abc", write "def" and
// finish; any other path starts, writes "hello" and finishes from a timer (on the strand),
// "/abort-after" then aborts.
// Every answer carries the fields the head test expects; disconnects are counted.
struct stream_service : net::service {
  std::mutex m;
  std::shared_ptr<net::response> held;
  std::atomic<int> disconnects{0};

  static void with_first(net::response& r) {
    r.start(200, {{"Content-Type", "text/plain"}}, "abc");
    r.write("def");
    r.finish();
  }
  void handle(net::request req, std::shared_ptr<net::response> res) override {
    // "/first" starts here, before any other call: the strand's way (the gate opens after
    // one); "/first-later" from after(), the gate's way.
    if (req.path == "/first") return with_first(*res);
    res->add_headers({{"X-A", "common"}, {"X-C", "c"}});
    res->on_disconnect([this] { ++disconnects; });
    if (req.path == "/hold") {
      std::lock_guard lock(m);
      held = res;
      res->start(200, {{"Content-Type", "text/plain"}});
      res->write("first");
      return;
    }
    if (req.path == "/first-later")
      return res->after(std::chrono::microseconds(0), [res] { with_first(*res); });
    res->after(std::chrono::microseconds(0), [res, abort = req.path == "/abort-after"] {
      res->start(200, {{"Content-Type", "text/plain"},
                       {"x-a", "2"},
                       {"X-Bad", "v\r\nInjected: yes"},
                       {"Connection", "keep-alive"},
                       {"Content-Length", "3"}});
      res->write("hello");
      res->finish();
      if (abort) res->abort();  // too late: the answer is whole
    });
  }
  void finish_held() {
    std::lock_guard lock(m);
    held->write("second");
    held->finish();
    held.reset();
  }
  net::upgrade_decision upgrade(const net::request&) override { return {}; }
};

struct stream_server {
  explicit stream_server(net::server_limits limits = {})
      : svc(std::make_shared<stream_service>()),
        server(svc, limits, 1),
        port(server.listen("127.0.0.1", 0)) {
    server.run();
  }
  std::shared_ptr<stream_service> svc;
  net::http_server server;
  std::uint16_t port;
};

const std::string last_chunk = "0\r\n\r\n";
const std::string hello_answer = "5\r\nhello\r\n" + last_chunk;  // any path but /hold

// Sends "/hold" (with `extra` header lines) and reads until its first chunk; all read.
std::string hold(raw_connection& c, const std::string& extra = "") {
  c.send("GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n");
  auto got = c.read_until("first", std::chrono::seconds(10));
  REQUIRE(got.find("first") != std::string::npos);
  return got;
}

// What the server's side of the one connection to `port` has not read yet (its receive
// queue in /proc/net/tcp), or -1 when there is no such connection.
long server_unread(std::uint16_t port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the column names
  char local[16];
  std::snprintf(local, sizeof local, ":%04X", port);
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local_address, remote_address, state, queues;
    in >> slot >> local_address >> remote_address >> state >> queues;
    if (state != "01" || !local_address.ends_with(local)) continue;  // 01: established
    return std::stol(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return -1;
}
// Whether the server has read everything sent to it on that connection: the test's way
// to know a pipelined request reached the server's buffer, not merely its socket.
bool server_read_all(std::uint16_t port) {
  return server_unread(port) == 0;
}

}  // namespace

TEST_CASE(
    "a streamed head is Beast's: later fields replace earlier ones, framing is the server's") {
  stream_server s;
  raw_connection c(s.port);
  c.send(get_root);
  auto got = c.read_until(last_chunk, std::chrono::seconds(10));
  auto head = got.substr(0, got.find("\r\n\r\n") + 4);
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(head.find("x-a: 2\r\n") != std::string::npos);
  CHECK(head.find("X-A:") == std::string::npos);  // replaced
  CHECK(head.find("X-C: c\r\n") != std::string::npos);
  CHECK(head.find("Server: askd\r\n") != std::string::npos);
  CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(head.find("Injected") == std::string::npos);  // a field with CR LF is dropped
  CHECK(head.find("Content-Length") == std::string::npos);
  CHECK(head.find("Connection") == std::string::npos);  // kept alive: nothing to say
  CHECK(got.ends_with(hello_answer));
}

TEST_CASE("a stream's first chunk goes with its head - by the strand or from the producer") {
  stream_server s;
  raw_connection c(s.port);
  // One connection: what it read so far is all of its answers, each sent once the one
  // before was answered.
  const std::string answer = "\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n" + last_chunk;
  std::size_t i = 0;
  for (std::string path : {"/first", "/first-later", "/first", "/first-later"}) {
    CAPTURE(path);
    c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    auto got = read_until_count(c, last_chunk, ++i);
    CHECK(count_of(got, "HTTP/1.1 200 OK\r\n") == i);
    CHECK(count_of(got, answer) == i);
    CHECK(got.ends_with(answer));
  }
}

TEST_CASE("a stream ended from the producer's thread: the connection serves its next request") {
  stream_server s;
  raw_connection c(s.port);
  for (std::size_t i = 1; i <= 3; ++i) {  // each sent once the one before was answered
    c.send(get_root);
    auto got = read_until_count(c, last_chunk, i);
    REQUIRE(count_of(got, hello_answer) == i);
  }
  c.close();
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
  // Each client left after its answer was whole: none went missing mid-stream.
  CHECK(s.svc->disconnects == 0);
}

TEST_CASE("a request pipelined behind a stream is answered when the stream ends") {
  stream_server s;
  raw_connection c(s.port);
  hold(c);
  // The next request arrives while the first is streaming, and the server has read it
  // before the stream ends: nothing more will make the socket readable.
  c.send(get_root);
  REQUIRE(eventually([&] { return server_read_all(s.port); }));
  s.svc->finish_held();
  auto got = c.read_until(hello_answer, std::chrono::seconds(10));
  CHECK(got.find("second") != std::string::npos);
  CHECK(got.find(hello_answer) != std::string::npos);
}

TEST_CASE("a stream ended from the producer's thread starts the idle limit") {
  auto limits = short_timeouts();
  stream_server s(limits);
  raw_connection c(s.port);
  hold(c);
  s.svc->finish_held();
  REQUIRE(c.read_until(last_chunk, std::chrono::seconds(10)).ends_with(last_chunk));
  // Nothing after it: closed at the idle limit (1 s), as after any answer.
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
  CHECK(s.svc->disconnects == 0);
}

TEST_CASE("an abort after finish leaves the answer whole and the connection serving") {
  stream_server s;
  raw_connection c(s.port);
  c.send("GET /abort-after HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  REQUIRE(read_until_count(c, hello_answer, 1).ends_with(last_chunk));
  c.send(get_root);
  CHECK(count_of(read_until_count(c, hello_answer, 2), hello_answer) == 2);
  CHECK(s.svc->disconnects == 0);
}

TEST_CASE("a stop after a stream ended from the producer's thread tells no one the client left") {
  stream_server s;
  raw_connection c(s.port);
  hold(c);
  s.svc->finish_held();
  REQUIRE(c.read_until(last_chunk, std::chrono::seconds(10)).ends_with(last_chunk));
  s.server.stop();
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  CHECK(s.svc->disconnects == 0);
}

TEST_CASE("a stream to a client that asked to close ends with the connection") {
  stream_server s;  // the idle limit is 120 s: only the close ends this connection
  raw_connection c(s.port);
  CHECK(hold(c, "Connection: close\r\n").find("Connection: close\r\n") != std::string::npos);
  s.svc->finish_held();
  CHECK(
      c.read_until(last_chunk, std::chrono::seconds(10)).ends_with("6\r\nsecond\r\n" + last_chunk));
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
}

namespace {

// A WebSocket service: each text message is echoed, except "close", which closes the
// socket (code 1000) from the server's side.
struct echo_ws_service : net::service {
  struct handler : net::websocket_handler {
    std::shared_ptr<net::websocket> ws;
    void on_text(std::string message) override {
      if (message == "close") return ws->close(1000);
      ws->send(std::move(message));
    }
    void on_closed() override { ws.reset(); }
  };
  void handle(net::request, std::shared_ptr<net::response> res) override {
    res->send(404, "text/plain", "");
  }
  net::upgrade_decision upgrade(const net::request&) override {
    net::upgrade_decision d;
    d.accept = [](std::shared_ptr<net::websocket> ws) {
      auto h = std::make_shared<handler>();
      h->ws = std::move(ws);
      return h;
    };
    return d;
  }
};

// A server of echo_ws_service whose WebSockets are pinged after 500 ms of silence and
// closed after 1 s, listening and running.
struct ws_server {
  ws_server()
      : server(std::make_shared<echo_ws_service>(), limits(), 1),
        port(server.listen("127.0.0.1", 0)) {
    server.run();
  }
  static net::server_limits limits() {
    net::server_limits l;
    l.ws_idle_timeout = std::chrono::milliseconds(1000);
    return l;
  }
  net::http_server server;
  std::uint16_t port;
};

// A WebSocket client on a raw socket, so the test decides what it answers: opens the
// socket with the handshake.
void open_ws(raw_connection& c) {
  REQUIRE(raw_ws_upgrade(c, "/ws").find("101 Switching Protocols") != std::string::npos);
}
const std::string server_ping("\x89\x00", 2);  // what the server pings with: no payload

}  // namespace

TEST_CASE("a silent WebSocket is pinged at half its idle limit and closed when no pong comes") {
  ws_server s;
  raw_connection c(s.port);
  open_ws(c);
  // The ping first (after 500 ms of silence), then the close (1 s): the client answers
  // neither. Waits of 20 s, far past both, so a slow machine does not fail it.
  CHECK(count_of(read_until_count(c, server_ping, 1), server_ping) == 1);
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
}

TEST_CASE("a WebSocket that answers every ping stays open past its idle limit") {
  ws_server s;
  raw_connection c(s.port);
  open_ws(c);
  // Three pings answered: 1.5 s of nothing but pongs from the client, past the 1 s limit.
  for (std::size_t pings = 1; pings <= 3; ++pings) {
    REQUIRE(count_of(read_until_count(c, server_ping, pings), server_ping) == pings);
    c.send(client_ws_frame(0xA, ""));  // the pong
  }
  // Still open: a message is answered.
  c.send(client_ws_frame(0x1, "still here"));
  CHECK(c.read_until("still here", std::chrono::seconds(10)).find("still here") !=
        std::string::npos);
}

TEST_CASE("a close the client never answers ends the WebSocket at the idle limit") {
  ws_server s;
  raw_connection c(s.port);
  open_ws(c);
  c.send(client_ws_frame(0x1, "close"));
  // The server's close frame (code 1000), which the client never answers.
  CHECK(c.read_until(std::string("\x88\x02\x03\xe8", 4), std::chrono::seconds(10))
            .find(std::string("\x88\x02\x03\xe8", 4)) != std::string::npos);
  CHECK(c.closed_by_peer(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return s.server.connections() == 0; }));
}

namespace {
// Answers every request with its path and body in brackets, streamed and ended at once
// from handle, keeping the connection; "/block" first holds the io thread (handle runs
// on it) until release().
struct echo_service : net::service {
  std::mutex m;
  std::condition_variable cv;
  bool blocked = false, released = false;

  void handle(net::request req, std::shared_ptr<net::response> res) override {
    if (req.path == "/block") {
      std::unique_lock lock(m);
      blocked = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return released; });
    }
    // A stream that ends at once: its end completes the response inside handle().
    res->start(200, {{"Content-Type", "text/plain"}}, req.path + " [" + req.body + "]");
    res->finish();
  }
  void release() {
    std::lock_guard lock(m);
    released = true;
    cv.notify_all();
  }
  bool wait_blocked() {
    std::unique_lock lock(m);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] { return blocked; });
  }
  net::upgrade_decision upgrade(const net::request&) override { return {}; }
};
}  // namespace

// A request is parsed from what a read brought when it is all there, and read on when it
// is not. A new connection's first piece is in its socket before the server accepts it
// (the one io thread is held meanwhile), so the server's first read finds it; each later
// piece is sent once the server has read the one before (its receive queue is empty).
TEST_CASE("a request is the same whole, in pieces, chunked or pipelined") {
  const std::string post = "POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n";
  const std::vector<std::vector<std::string>> ways = {
      {post + "hello"},                                 // whole
      {post.substr(0, 20), post.substr(20) + "hello"},  // the head in two
      {post, "he", "llo"},                              // the body after the head, in two
      {"POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"},  // chunked, whole
      // two requests in one send: the second is in the buffer when the first is answered
      {post + "hello" + "POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"},
  };
  for (bool later : {false, true}) {
    for (const auto& pieces : ways) {
      CAPTURE(later, pieces);
      auto svc = std::make_shared<echo_service>();
      net::http_server server(svc, net::server_limits{}, 1);
      auto port = server.listen("127.0.0.1", 0);
      server.run();
      std::optional<raw_connection> holder(std::in_place, port);
      holder->send("GET /block HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      REQUIRE(svc->wait_blocked());
      raw_connection c(port);
      std::size_t first = later ? 0 : 1;  // a later request: after one answered on the connection
      c.send(later ? get_root : pieces[0]);
      holder.reset();  // closed: only c is established when the receive queue is read
      svc->release();
      if (later) {
        REQUIRE(c.read_until("/ []", std::chrono::seconds(10)).find("/ []") != std::string::npos);
      }
      for (auto i = first; i < pieces.size(); ++i) {
        REQUIRE(eventually([&] { return server_read_all(port); }));
        c.send(pieces[i]);
      }
      std::string all;
      for (const auto& piece : pieces) all += piece;
      auto answers = count_of(all, "POST /p");
      auto got = read_until_count(c, "/p [hello]", answers);
      CHECK(count_of(got, "HTTP/1.1 200 OK") == answers + (later ? 1u : 0u));
      CHECK(count_of(got, "/p [hello]") == answers);
    }
  }
  // A malformed head in the first read is a 400, as from a read of its own.
  net::http_server server(std::make_shared<echo_service>(), net::server_limits{}, 1);
  auto port = server.listen("127.0.0.1", 0);
  server.run();
  raw_connection bad(port);
  bad.send("NOT HTTP\r\n\r\n");
  CHECK(bad.read_until("}", std::chrono::seconds(10)).starts_with("HTTP/1.1 400"));
}

// Set on the listening socket once, not on each connection: Linux copies it to every
// connection accepted there. This finds the server's side of a connection among the
// test process's own descriptors (the server runs in it) and asks.
TEST_CASE("a connection the server accepted has Nagle's delay off") {
  short_limits_server s;
  raw_connection c(s.port);
  c.send(get_root);
  REQUIRE(c.read_until("\r\n\r\nok", std::chrono::seconds(10)).find("200") != std::string::npos);
  int accepted = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::stoi(entry.path().filename().string());
    sockaddr_in local{}, peer{};
    socklen_t n = sizeof local, m = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &n) != 0 ||
        local.sin_family != AF_INET || ntohs(local.sin_port) != s.port ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &m) != 0)
      continue;  // not a socket, the listener, or the client's side
    int on = 0;
    socklen_t len = sizeof on;
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0);
    CHECK(on != 0);
    ++accepted;
  }
  CHECK(accepted == 1);
}

// Requests pipelined behind a stream fill the connection's buffer past 64 KB (where it
// stops reading ahead); when the stream ends they are answered one by one, each at once
// from inside the service's handle(). Each must be read from a posted handler, not
// inside the last one's handle(): nested, every request went a level deeper in the
// stack, and the next request's body charge replaced the one being answered, which was
// never given back, so the body budget ran out (503s).
TEST_CASE("requests pipelined behind a stream past the read-ahead are answered - not nested") {
  net::server_limits limits;
  limits.body_budget_bytes = 1000;
  stream_server s(limits);
  raw_connection c(s.port);
  hold(c);
  const std::string one = "POST /first HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60\r\n\r\n" +
                          std::string(60, 'x');
  const std::size_t n = 80 * 1024 / one.size();
  std::string all;
  for (std::size_t i = 0; i < n; ++i) all += one;
  c.send(all);
  // The server reads ahead while the stream runs, until it holds 64 KB.
  REQUIRE(eventually([&] {
    auto unread = server_unread(s.port);
    return unread >= 0 && all.size() - static_cast<std::size_t>(unread) > 64 * 1024;
  }));
  s.svc->finish_held();
  const std::string answer = "3\r\nabc\r\n3\r\ndef\r\n" + last_chunk;  // "/first"'s
  auto got = read_until_count(c, answer, n);
  CHECK(count_of(got, answer) == n);
  CHECK(count_of(got, "HTTP/1.1 503") == 0);
}
