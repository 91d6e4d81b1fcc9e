// What happens around a stream: clients that leave, servers that stop.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;
using namespace std::chrono_literals;

TEST_CASE("a client that leaves mid-answer cancels the upstream call and every actor") {
  e2e_env env;
  raw_connection c(env.port);
  // askmock sends two deltas, then goes silent: only a cancel can end this stream.
  c.send(post_bytes("/chat/completions/stream",
                    chat_body("q", R"({"text":"QQRRSSTT","chunk":2,"fault":"stall","after":2})")));
  // Both deltas are through (as two chunks or one): "RR" is the second.
  REQUIRE(c.read_until("RR", 10s).find("RR") != std::string::npos);
  REQUIRE(env.mock->stats().active == 1);
  // A compat stream is carried by its session: no stream actor and no sink, yet counted
  // as a stream (a drain waits for it).
  CHECK(env.askd->census().sessions == 1);
  CHECK(env.askd->census().streams == 1);
  CHECK(env.askd->census().sinks == 0);
  auto left = std::chrono::steady_clock::now();
  c.close();
  REQUIRE(eventually([&] { return env.mock->stats().disconnects == 1; }));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - left);
  // Reported, not asserted: bench/ measures the latency; tests stay timing-free.
  WARN("upstream saw the cancel after " << took.count() << " ms");
  CHECK(env.settles());
  CHECK(env.askd->census().total() == 0);
}

TEST_CASE("a WebSocket client that leaves mid-answer cancels the upstream call") {
  e2e_env env;
  raw_connection c(env.port);
  REQUIRE(raw_ws_upgrade(c, "/ws/chat").find(" 101 ") != std::string::npos);
  // One text frame carrying the request.
  c.send(client_ws_frame(
      0x1, chat_body("q", R"({"text":"QQRRSSTT","chunk":2,"fault":"stall","after":1})")));
  REQUIRE(c.read_until("QQ", 10s).find("QQ") != std::string::npos);
  c.close();
  REQUIRE(eventually([&] { return env.mock->stats().disconnects == 1; }));
  CHECK(env.settles());
}

TEST_CASE("stopping askd ends open streams and leaves no actor behind") {
  e2e_env env;
  raw_connection c(env.port);
  c.send(post_bytes("/chat/completions/stream",
                    chat_body("q", R"({"text":"QQRRSSTT","chunk":2,"fault":"stall","after":1})")));
  REQUIRE(c.read_until("QQ", 10s).find("QQ") != std::string::npos);
  REQUIRE(env.mock->stats().active == 1);
  env.askd->stop();
  // Past the grace period the connection is closed: the response has no last chunk,
  // so the client can tell the answer is incomplete.
  auto got = c.read_all(10s);
  CHECK(got.find("0\r\n\r\n") == std::string::npos);
  CHECK(env.askd->census().total() == 0);
  CHECK(eventually([&] { return env.mock->stats().active == 0; }));
}

TEST_CASE("a draining askd refuses new chats with 503 and Retry-After - and says so at /health") {
  e2e_env env([](askd::core::config& c) { c.server.shutdown_grace_ms = 60000; });
  // A stream that only ends when its client leaves keeps the drain going.
  raw_connection streaming(env.port);
  streaming.send(
      post_bytes("/chat/completions/stream",
                 chat_body("q", R"({"text":"QQRRSSTT","chunk":2,"fault":"stall","after":1})")));
  REQUIRE(streaming.read_until("QQ", 10s).find("QQ") != std::string::npos);
  // Connections opened before stop() stay served during the drain.
  raw_connection early(env.port), probe(env.port);
  REQUIRE(eventually([&] { return env.askd->connections() == 3; }));
  std::thread stopper([&] { env.askd->stop(); });
  REQUIRE(eventually([&] { return env.askd->draining(); }));
  early.send(post_bytes("/chat/completions/stream", chat_body("q")));
  auto got = early.read_until("}", 10s);
  CHECK(got.find("HTTP/1.1 503") == 0);
  CHECK(got.find("Retry-After: 5") != std::string::npos);
  probe.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto health = probe.read_until("}", 10s);
  CHECK(health.find("HTTP/1.1 503") == 0);
  CHECK(health.find(R"("status":"draining")") != std::string::npos);
  streaming.close();  // the last stream ends, so the drain does
  stopper.join();
  CHECK(env.askd->census().total() == 0);
  CHECK(env.mock->stats().disconnects == 1);
}
