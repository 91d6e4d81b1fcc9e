// Deep research end to end. Driven by the client, as deepwiki-open's Ask component drives
// it: each round is a new request carrying the history; askd numbers the round, asks for
// the round's heading, and retrieves for what the last round said to look at next, not
// for "Continue the research". Driven by the server (`deep_research: true`): one stream,
// a stage and a heading per round, each round retrieving for the last one's "Next:".
// askmock answers each round as askd's instructions ask (its `research` directive).
#include <catch2/catch.hpp>

#include <thread>

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

// A research into the fixture repo, the question carrying askmock's `research` directive
// (the leads its rounds name next) and `extra` fields of its own.
std::string research_body(const std::string& mock, const std::string& provider,
                          const std::string& extra, bool tag = false,
                          const std::string& topic = "How are callers throttled?") {
  auto question =
      std::string(tag ? "[DEEP RESEARCH] " : "") + topic + (mock.empty() ? "" : " #mock" + mock);
  return "{\"repo_url\":" + core::json::quote(ASKD_FIXTURES "/minirepo") +
         ",\"type\":\"local\",\"provider\":\"" + provider + "\"" + extra +
         ",\"messages\":[{\"role\":\"user\",\"content\":" + core::json::quote(question) + "}]}";
}

// The leads of the scripted research: each names one file of the fixture by its words.
const std::string leads =
    R"({"research":["retry backoff delay jitter","websocket session frames","token bucket refill"]})";

struct research_stream {
  std::vector<std::string> stages;  // "1:plan", "2:update", ...
  std::string text;
  std::string end;  // the last event's name and data
};

research_stream read_stream(const std::string& body) {
  research_stream out;
  for (const auto& e : parse_sse(body)) {
    if (e.event == "stage")
      out.stages.push_back(json_field(e.data, "round") + ":" + json_field(e.data, "kind"));
    if (e.event == "delta") out.text += json_field(e.data, "text");
    out.end = e.event + " " + e.data;
  }
  return out;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a server-driven research streams five rounds - each retrieving what the last named") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/v1/chat/stream",
                     research_body(leads, "openai", ",\"deep_research\":true"));
  REQUIRE(r.status == 200);
  auto s = read_stream(r.body);
  CHECK(s.stages ==
        std::vector<std::string>{"1:plan", "2:update", "3:update", "4:update", "5:conclusion"});
  INFO(s.text);
  // Each heading once, written by askd (askmock was told so and did not write it).
  for (auto* h :
       {"## Research Plan\n\nRound 1 (plan)", "\n\n## Research Update 2\n\nRound 2 (update)",
        "\n\n## Research Update 3\n\nRound 3 (update)",
        "\n\n## Research Update 4\n\nRound 4 (update)",
        "\n\n## Final Conclusion\n\nRound 5 (conclusion)"})
    CHECK(count(s.text, h) == 1);
  CHECK(count(s.text, "## ") == 5);
  CHECK(s.text.rfind("## Research Plan", 0) == 0);
  // Round N+1 read the file round N named next.
  auto round = [&](int n) {
    auto from = s.text.find("Round " + std::to_string(n) + " (");
    return s.text.substr(from, s.text.find("Round " + std::to_string(n + 1) + " (") - from);
  };
  CHECK(round(1).find("Next: retry backoff delay jitter") != std::string::npos);
  CHECK(round(2).find("`src/retry_policy.cpp`") != std::string::npos);
  CHECK(round(3).find("`src/http/websocket_session.cpp`") != std::string::npos);
  CHECK(round(4).find("`src/token_bucket.py`") != std::string::npos);
  CHECK(round(5).find("Concluded after 5 rounds.") != std::string::npos);
  CHECK(s.end.rfind("done ", 0) == 0);
  CHECK(env.mock->stats().requests == 5);
  CHECK(env.settles());
}

TEST_CASE("a model that writes the heading askd wrote has its copy dropped - in every round") {
  e2e_env env;
  auto stubborn =
      R"({"research":["retry backoff delay jitter","websocket session frames","token bucket refill"],"heading":true,"chunk":3})";
  auto s = read_stream(http_call(env.port, "POST", "/v1/chat/stream",
                                 research_body(stubborn, "openai", ",\"deep_research\":true"))
                           .body);
  INFO(s.text);
  CHECK(s.stages.size() == 5);
  CHECK(count(s.text, "## ") == 5);
  CHECK(count(s.text, "## Research Update 3\n\nRound 3 (update)") == 1);
  CHECK(count(s.text, "## Final Conclusion\n\nRound 5 (conclusion)") == 1);
}

TEST_CASE("a research for a small window shortens its oldest rounds - never the latest") {
  e2e_env env([](core::config& c) {
    for (auto& p : c.generator.providers)
      for (auto& m : p.models) m.context_window = 4096 + 200;  // 100 tokens for earlier rounds
  });
  auto s = read_stream(http_call(env.port, "POST", "/v1/chat/stream",
                                 research_body(leads, "openai", ",\"deep_research\":true"))
                           .body);
  CHECK(s.stages.size() == 5);
  auto last = env.mock->last_body();  // round 5's request
  INFO(last);
  CHECK(last.find("## Research Plan\\n\\n(This round is shortened to fit the model's window.)"
                  "\\n\\nNext: retry backoff delay jitter") != std::string::npos);
  CHECK(last.find("Round 4 (update)") != std::string::npos);
  CHECK(last.find("Round 1 (plan)") == std::string::npos);
}

TEST_CASE("a server-driven research on the compat face carries the headings in its text") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/chat/completions/stream",
                     research_body(leads, "openai", ",\"deep_research\":true", true));
  REQUIRE(r.status == 200);
  CHECK(r.body.rfind("## Research Plan\n\nRound 1 (plan)", 0) == 0);
  for (auto* h : {"## Research Update 2", "## Research Update 3", "## Research Update 4",
                  "## Final Conclusion"})
    CHECK(count(r.body, h) == 1);
  CHECK(r.body.find("[DEEP RESEARCH]") == std::string::npos);
}

TEST_CASE("a research ends at max_rounds - and early when a round names nothing next") {
  e2e_env env;
  auto bounded = read_stream(
      http_call(env.port, "POST", "/v1/chat/stream",
                research_body(leads, "openai", ",\"deep_research\":true,\"max_rounds\":2"))
          .body);
  CHECK(bounded.stages == std::vector<std::string>{"1:plan", "2:conclusion"});
  CHECK(bounded.text.find("Concluded after 2 rounds.") != std::string::npos);
  auto one = read_stream(
      http_call(env.port, "POST", "/v1/chat/stream",
                research_body(leads, "openai", ",\"deep_research\":true,\"max_rounds\":1"))
          .body);
  CHECK(one.stages == std::vector<std::string>{"1:conclusion"});
  // One lead only: round 2 says "Next: nothing", so round 3 concludes.
  auto early = read_stream(http_call(env.port, "POST", "/v1/chat/stream",
                                     research_body(R"({"research":["retry backoff"]})", "openai",
                                                   ",\"deep_research\":true"))
                               .body);
  CHECK(early.stages == std::vector<std::string>{"1:plan", "2:update", "3:conclusion"});
  CHECK(early.end.rfind("done ", 0) == 0);
}

TEST_CASE("a failing research round is retried - and one cut mid-answer continued byte-exact") {
  e2e_env env;
  // The same research three times: clean, with round 2 cut after 15 bytes (the
  // continuation repeating 12 of them, as models do), with round 3 refused once (503).
  // The directives differ in one character only, so retrieval ranks alike.
  auto directive = [](const std::string& fault, int fault_round) {
    return R"({"research":["retry backoff delay jitter","websocket session frames","token bucket refill"],"chunk":5,"fault":")" +
           fault + R"(","status":503,"after":3,"fail_first":1,"key":"round)" +
           std::to_string(fault_round) + R"(","fault_round":)" + std::to_string(fault_round) +
           R"(,"overlap":12})";
  };
  auto run = [&](const std::string& mock) {
    return read_stream(http_call(env.port, "POST", "/v1/chat/stream",
                                 research_body(mock, "openai", ",\"deep_research\":true"))
                           .body);
  };
  // The text but for the directive's words in the topic.
  auto same = [](std::string text) {
    for (auto at = text.find(" #mock{"); at != std::string::npos; at = text.find(" #mock{"))
      text.erase(at, text.find('\n', at) - at);
    return text;
  };
  auto clean = run(directive("cut", 9));
  CHECK(env.mock->stats().faults == 0);
  auto cut = run(directive("cut", 2));
  CHECK(env.mock->stats().faults == 1);
  CHECK(env.mock->stats().continuations == 1);
  CHECK(cut.stages == clean.stages);
  CHECK(same(cut.text) == same(clean.text));
  CHECK(cut.end.find("\"degraded\":[\"continued\"]") != std::string::npos);
  auto refused = run(directive("status", 3));
  CHECK(env.mock->stats().faults == 2);
  CHECK(refused.stages == clean.stages);
  CHECK(same(refused.text) == same(clean.text));
  CHECK(refused.end.find("\"degraded\":[]") != std::string::npos);  // retried before any text
}

TEST_CASE("cancelling a research mid-round stops every round and its upstream call") {
  e2e_env env;
  auto slow =
      R"({"research":["retry backoff delay jitter","websocket session frames"],"chunk":4,"gap_ms":20})";
  auto started = http_call(env.port, "POST", "/v1/streams",
                           research_body(slow, "openai", ",\"deep_research\":true"));
  auto id = json_field(started.body, "stream_id");
  REQUIRE(!id.empty());
  // Round 2 is being answered: round 1 completed, its successor's call is open.
  REQUIRE(
      eventually([&] { return env.mock->stats().completed == 1 && env.mock->stats().active == 1; },
                 std::chrono::seconds(20)));
  CHECK(env.askd->census().rounds == 1);
  CHECK(env.askd->census().research == 1);
  CHECK(http_call(env.port, "DELETE", "/v1/streams/" + id).status == 204);
  CHECK(env.settles());
  CHECK(env.askd->census().rounds == 0);
  CHECK(env.askd->census().research == 0);
  auto watched = read_stream(http_call(env.port, "GET", "/v1/streams/" + id).body);
  CHECK(watched.stages == std::vector<std::string>{"1:plan", "2:update"});
  CHECK(watched.end.find("\"finish_reason\":\"cancelled\"") != std::string::npos);
  CHECK(env.mock->stats().requests == 2);  // no round 3 was asked for
}

TEST_CASE("the local provider runs a whole research offline") {
  e2e_env env;
  auto s =
      read_stream(http_call(env.port, "POST", "/v1/chat/stream",
                            research_body("", "local", ",\"deep_research\":true,\"max_rounds\":3",
                                          false, "How is the backoff delay computed?"))
                      .body);
  CHECK(s.stages == std::vector<std::string>{"1:plan", "2:update", "3:conclusion"});
  INFO(s.text);
  CHECK(count(s.text, "## ") >= 3);
  CHECK(count(s.text, "\nNext: `") == 2);  // plan and update name their leads
  CHECK(s.text.find("## Final Conclusion\n\nPlaces examined in 2 rounds:") != std::string::npos);
  CHECK(s.text.find("retry_policy.cpp") != std::string::npos);
  CHECK(s.end.rfind("done ", 0) == 0);
}

TEST_CASE(
    "a client-driven research through askmock gives each round's stage - its lead read next") {
  e2e_env env;
  // As deepwiki-open's Ask component does it: each answer goes back as history.
  std::string history = R"([{"role":"user","content":")" +
                        std::string("[DEEP RESEARCH] How are callers throttled? #mock") +
                        core::json::quote(leads).substr(1, core::json::quote(leads).size() - 2) +
                        "\"}";
  const char* headings[] = {"## Research Plan", "## Research Update 2", "## Research Update 3",
                            "## Research Update 4", "## Final Conclusion"};
  const char* read_next[] = {"", "src/retry_policy.cpp", "src/http/websocket_session.cpp",
                             "src/token_bucket.py", ""};
  for (int round = 0; round < 5; ++round) {
    auto body = "{\"repo_url\":" + core::json::quote(ASKD_FIXTURES "/minirepo") +
                ",\"type\":\"local\",\"provider\":\"openai\",\"messages\":" + history + "]}";
    auto r = http_call(env.port, "POST", "/chat/completions/stream", body);
    INFO("round " << round + 1 << ": " << r.body);
    CHECK(r.body.rfind(std::string(headings[round]) + "\n\n", 0) == 0);
    if (*read_next[round]) CHECK(r.body.find(read_next[round]) != std::string::npos);
    history += ",{\"role\":\"assistant\",\"content\":" + core::json::quote(r.body) +
               "},{\"role\":\"user\",\"content\":\"[DEEP RESEARCH] Continue the research\"}";
  }
}

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
  // On v1 the round is a stage event too.
  auto v1 =
      read_stream(http_call(env.port, "POST", "/v1/chat/stream", round_body(2, "local")).body);
  CHECK(v1.stages == std::vector<std::string>{"3:update"});
  CHECK(v1.text.rfind("## Research Update 3\n\n", 0) == 0);
}
