// The attacks of issue 17 replayed against a running askd: each must leave askd up and
// answering a control request, and each is refused with a clear error instead of
// crashing, starving or reading through askd.
#include <catch2/catch.hpp>

#include "core/json.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {

std::string deep(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// askd is up and answers at once.
bool alive(const e2e_env& env) {
  auto r = http_call(env.port, "GET", "/health", {}, {}, std::chrono::seconds(10));
  return r.status == 200;
}

}  // namespace

TEST_CASE("a request body nested 150000 levels deep is a 400 - not a crash") {
  e2e_env env;
  auto body = R"({"repo_url":"https://github.com/a/b","messages":[{"role":"user","content":"q"}],"x":)" +
              deep(150000) + "}";
  auto r = http_call(env.port, "POST", "/chat/completions/stream", body);
  CHECK(r.status == 400);
  CHECK(r.body == R"({"detail":"body: JSON nested deeper than 64 levels"})");
  r = http_call(env.port, "POST", "/v1/chat/stream", deep(150000));
  CHECK(r.status == 400);
  CHECK(alive(env));
}

TEST_CASE("an askd.v1 frame nested 150000 levels deep gets an error frame and the socket goes on") {
  e2e_env env;
  int step = 0;
  std::string answer;
  auto ws = ws_converse(env.port, "/ws/chat", "askd.v1", {}, {deep(150000)},
                        [&](const std::string& frame) -> ws_step {
                          if (step++ == 0) {
                            CHECK(frame.find("\"type\":\"error\"") != std::string::npos);
                            CHECK(frame.find("nested deeper than 64 levels") != std::string::npos);
                            // The same socket still takes a chat.
                            return {{R"({"type":"chat","id":"c1","request":)" +
                                     chat_body("q", R"({"text":"still here"})") + "}"}};
                          }
                          if (frame.find("\"type\":\"delta\"") != std::string::npos)
                            answer += "x";
                          return {{}, frame.find("\"type\":\"done\"") != std::string::npos};
                        });
  CHECK(ws.accepted);
  CHECK(!answer.empty());
  CHECK(alive(env));
}

TEST_CASE("an upstream event nested 150000 levels deep ends the answer with a malformed-stream error") {
  e2e_env env;
  for (const char* provider : {"openai", "google", "anthropic", "ollama", "bedrock"}) {
    auto r = http_call(env.port, "POST", "/chat/completions/stream",
                       chat_body("q", R"({"text":"a b c","chunk":2,"fault":"nested","after":2})",
                                 provider));
    INFO(provider << " -> " << r.body.substr(0, 300));
    CHECK(r.status == 200);
    CHECK(r.body.rfind("a b ", 0) == 0);
    CHECK(r.body.find("\nError: ") != std::string::npos);
    CHECK(r.body.find("not a JSON object") != std::string::npos);
  }
  CHECK(alive(env));
  CHECK(env.settles());
}
