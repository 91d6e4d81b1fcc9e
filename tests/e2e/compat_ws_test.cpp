// The compat WebSocket face: first frame is the request, one frame per chunk, close 1000.
#include <catch2/catch.hpp>

#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

TEST_CASE("compat WS sends one text frame per chunk - then closes with 1000") {
  e2e_env env;
  const std::string text = "One frame per chunk: naïve 日本語 — done.";
  auto r = ws_call(env.port, "/ws/chat", chat_body("q", R"({"text":")" + text + R"(","chunk":5})"));
  REQUIRE(r.accepted);
  CHECK(r.close_code == 1000);
  CHECK(r.frames == askmock::split_deltas(text, 5));
  CHECK(env.settles());
}

TEST_CASE("compat WS refuses a bad request with one Error frame - then closes") {
  e2e_env env;
  auto r = ws_call(env.port, "/ws/chat", R"({"repo_url":"https://github.com/a/b","messages":[]})");
  REQUIRE(r.accepted);
  REQUIRE(r.frames.size() == 1);
  CHECK(r.frames[0] == "Error: No messages provided");
  CHECK(r.close_code == 1000);
  r = ws_call(env.port, "/ws/chat", "{not json");
  REQUIRE(r.frames.size() == 1);
  CHECK(r.frames[0].rfind("Error: body:", 0) == 0);
  CHECK(env.mock->stats().requests == 0);
}

TEST_CASE("compat WS reports an upstream failure mid-answer as a last Error frame") {
  e2e_env env;
  auto r =
      ws_call(env.port, "/ws/chat",
              chat_body("q", R"({"text":"abcdefgh","chunk":2,"fault":"malformed","after":2})"));
  REQUIRE(r.frames.size() == 3);
  CHECK(r.frames[0] == "ab");
  CHECK(r.frames[1] == "cd");
  CHECK(r.frames[2].rfind("Error: ", 0) == 0);
  CHECK(r.close_code == 1000);
}

TEST_CASE("a WebSocket upgrade on another path is refused") {
  e2e_env env;
  auto r = ws_call(env.port, "/ws/other", "{}");
  CHECK_FALSE(r.accepted);
  CHECK(r.refused_status == 404);
}

namespace {
// askd's askd_connections gauge, from /metrics (whose own connection it counts).
long open_connections(std::uint16_t port) {
  auto body = http_call(port, "GET", "/metrics").body;
  auto at = body.find("\naskd_connections ");
  return at == std::string::npos ? -1 : std::stol(body.substr(at + 18));
}
}  // namespace

TEST_CASE("GET /metrics counts open connections - idle WebSockets included") {
  e2e_env env;
  REQUIRE(eventually([&] { return open_connections(env.port) == 1; }));  // the metrics call
  std::vector<std::unique_ptr<raw_connection>> sockets;
  for (int i = 0; i < 3; ++i) {
    sockets.push_back(std::make_unique<raw_connection>(env.port));
    REQUIRE(raw_ws_upgrade(*sockets.back(), "/ws/chat").find("101") != std::string::npos);
  }
  CHECK(eventually([&] { return open_connections(env.port) == 4; }));
  sockets.clear();
  CHECK(eventually([&] { return open_connections(env.port) == 1; }));
}
