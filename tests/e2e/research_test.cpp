// Deep research driven by the client, as deepwiki-open's Ask component drives it: each
// round is a new request carrying the history; askd numbers the round, asks for the
// round's heading, and retrieves for the research question, not "Continue the research".
#include <catch2/catch.hpp>

#include "core/json.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd;
using namespace askd::test;

namespace {

// Round `answers + 1` of a research into the fixture's backoff, for `provider`.
std::string round_body(int answers, const std::string& provider) {
  std::string messages =
      R"([{"role":"user","content":"[DEEP RESEARCH] How is the backoff delay computed?"})";
  for (int i = 0; i < answers; ++i)
    messages +=
        R"(,{"role":"assistant","content":"round )" + std::to_string(i + 1) +
        R"("},{"role":"user","content":"[DEEP RESEARCH] Continue the research #mock{\"text\":\"ok\"}"})";
  messages += "]";
  return "{\"repo_url\":" + core::json::quote(ASKD_FIXTURES "/minirepo") +
         ",\"type\":\"local\",\"provider\":\"" + provider + "\",\"messages\":" + messages + "}";
}

}  // namespace

TEST_CASE("each client-driven round asks for its heading - with the research question's context") {
  e2e_env env;
  const char* headings[] = {"## Research Plan", "## Research Update 2", "## Research Update 3",
                            "## Research Update 4", "## Final Conclusion"};
  for (int answers = 1; answers < 5; ++answers) {
    auto r = http_call(env.port, "POST", "/chat/completions/stream", round_body(answers, "openai"));
    INFO("round " << answers + 1);
    CHECK(r.body == "ok");
    auto sent = env.mock->last_body();
    CHECK(sent.find(std::string("the heading \\\"") + headings[answers] + "\\\"") !=
          std::string::npos);
    CHECK(sent.find("## File: src/retry_policy.cpp") != std::string::npos);
    CHECK(sent.find("[DEEP RESEARCH]") == std::string::npos);
  }
}

TEST_CASE("the local provider answers each research round under the round's heading") {
  e2e_env env;
  auto first = http_call(env.port, "POST", "/chat/completions/stream", round_body(0, "local"));
  CHECK(first.body.rfind("## Research Plan\n\n", 0) == 0);
  CHECK(first.body.find("retry_policy.cpp") != std::string::npos);
  auto last = http_call(env.port, "POST", "/chat/completions/stream", round_body(4, "local"));
  CHECK(last.body.rfind("## Final Conclusion\n\n", 0) == 0);
  CHECK(last.body.find("retry_policy.cpp") != std::string::npos);
}
