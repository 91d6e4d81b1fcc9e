// A real browser. Chromium's EventSource, its connection killed mid-answer, resumes by
// itself with Last-Event-ID and ends with the whole answer (issue 5). deepwiki-open's Ask
// component's deep research, run in the page as the component runs it, goes through five
// rounds on askd (issue 8). Needs Debian's chromium and playwright-core from npm, which
// `./dev test` installs; where they could not be installed the tests say so and check
// nothing.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

#include "core/json.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {

std::string run(const std::string& command) {
  std::string out;
  auto* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

const std::string chromium = "/usr/bin/chromium";
const std::string playwright = ASKD_NPM_DIR "/node_modules/playwright-core";

// Whether the browser can run here; says why not.
bool have_browser() {
  namespace fs = std::filesystem;
  if (fs::exists(chromium) && fs::exists(playwright) && !run("command -v node").empty())
    return true;
  WARN("SKIPPED: needs " << chromium << ", node and " << playwright
                         << " (./dev test installs them; they could not be installed here)");
  return false;
}

// Runs tests/browser/<script> with askd's port, `body` and the browser; its JSON answer.
std::string run_page(const std::string& script, std::uint16_t port, const std::string& body) {
  auto out = run("node " ASKD_TESTS_DIR "/browser/" + script + " " + std::to_string(port) + " '" +
                 body + "' " + playwright + " " + chromium + " 2>&1");
  INFO("browser: " << out);
  // The script's answer is its last line.
  while (!out.empty() && out.back() == '\n') out.pop_back();
  auto line = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  REQUIRE(line.rfind("{\"", 0) == 0);
  return line;
}

}  // namespace

TEST_CASE(
    "a browser EventSource whose connection is killed resumes and ends with the whole answer") {
  if (!have_browser()) return;
  e2e_env env;
  const std::string answer =
      "The browser reconnects by itself and askd replays what it missed, so nothing is lost.";
  // The script starts the answer once the browser is up; it comes slowly (~1.5 s).
  auto body = chat_body("q", R"({"text":")" + answer + R"(","chunk":6,"gap_ms":100})");
  auto json = run_page("eventsource.mjs", env.port, body);
  rapidjson::Document d;
  askd::core::json::parse(json, d);
  askd::core::json::object_reader r(d, "");
  CHECK(r.boolean("cut") == true);         // the connection was killed mid-answer
  CHECK(r.integer("opens", 0, 100) >= 2);  // and the browser opened another
  CHECK(r.string_or("text", "") == answer);
}

namespace {

// What the page's research did: requests, each stage as "title@iteration", and whether
// it completed by the text (not forced by the client).
struct ask_outcome {
  std::int64_t requests = 0;
  std::vector<std::string> stages;
  bool complete = false, forced = false;
  std::string last_answer;
};

ask_outcome ask_research(std::uint16_t port, const std::string& request) {
  auto json = run_page("ask_research.mjs", port, request);
  rapidjson::Document d;
  askd::core::json::parse(json, d);
  askd::core::json::object_reader r(d, "");
  ask_outcome out;
  out.requests = r.integer("requests", 0, 100).value_or(0);
  out.complete = r.boolean("complete").value_or(false);
  out.forced = r.boolean("forced").value_or(true);
  for (const auto& s : d["stages"].GetArray())
    out.stages.push_back(std::string(s["title"].GetString()) + "@" +
                         std::to_string(s["iteration"].GetInt()));
  const auto& answers = d["answers"].GetArray();
  if (!answers.Empty()) out.last_answer = answers[answers.Size() - 1].GetString();
  return out;
}

std::string ask_request(const std::string& provider, const std::string& question,
                        const std::string& extra = {}) {
  return "{\"repo_url\":" + askd::core::json::quote(ASKD_FIXTURES "/minirepo") +
         ",\"type\":\"local\",\"provider\":\"" + provider +
         "\",\"language\":\"en\",\"question\":" + askd::core::json::quote(question) + extra + "}";
}

}  // namespace

TEST_CASE("deepwiki-open's Ask research in a browser goes through five rounds on askd") {
  if (!have_browser()) return;
  e2e_env env;
  const std::vector<std::string> five{"Research Plan@1", "Research Update 2@2",
                                      "Research Update 3@3", "Research Update 4@4",
                                      "Final Conclusion@5"};
  SECTION("answered by a model (askmock)") {
    auto o = ask_research(
        env.port,
        ask_request("openai", R"(How are callers throttled? #mock{"research":["retry backoff",)"
                              R"("websocket session","token bucket"]})"));
    CHECK(o.requests == 5);
    CHECK(o.stages == five);
    CHECK(o.complete);
    CHECK_FALSE(o.forced);  // askd's fifth answer is the conclusion: the client saw it
    CHECK(o.last_answer.find("Concluded after 5 rounds.") != std::string::npos);
  }
  SECTION("answered offline (local)") {
    auto o = ask_research(env.port, ask_request("local", "How is the backoff delay computed?"));
    CHECK(o.requests == 5);
    CHECK(o.stages == five);
    CHECK_FALSE(o.forced);
  }
  SECTION("researched by askd in one answer (deep_research on the compat face)") {
    auto o = ask_research(
        env.port,
        ask_request("openai", R"(How are callers throttled? #mock{"research":["retry backoff"]})",
                    ",\"deep_research\":true"));
    CHECK(o.requests == 1);
    CHECK(o.complete);
    CHECK_FALSE(o.forced);
    CHECK(o.stages == std::vector<std::string>{"Research Plan@1"});
    CHECK(o.last_answer.find("## Research Update 2") != std::string::npos);
    CHECK(o.last_answer.find("## Final Conclusion") != std::string::npos);
  }
}

namespace {

// What a page on http://localhost:<port> could read from http://127.0.0.1:<port>.
struct cross_origin {
  std::string plain, json, ws, sse;
};

cross_origin try_cross_origin(std::uint16_t port, const std::string& body) {
  auto out = run_page("cors.mjs", port, body);
  rapidjson::Document d;
  askd::core::json::parse(out, d);
  return {d["plain"].GetString(), d["json"].GetString(), d["ws"].GetString(),
          d["sse"].GetString()};
}

std::uint16_t fixed_port = 0;

}  // namespace

TEST_CASE("a page on another origin cannot read an answer from a local askd") {
  if (!have_browser()) return;
  e2e_env env;
  auto r = try_cross_origin(env.port, local_body("where is the retry loop?"));
  INFO(r.plain << " | " << r.json << " | " << r.ws << " | " << r.sse);
  CHECK(r.plain.rfind("blocked:", 0) == 0);
  CHECK(r.json.rfind("blocked:", 0) == 0);
  CHECK(r.ws.rfind("blocked:", 0) == 0);
  CHECK(r.sse.rfind("blocked:", 0) == 0);
  // Nothing was answered: askd refused every one before any work.
  auto metrics = http_call(env.port, "GET", "/metrics").body;
  CHECK(metrics.find("askd_requests_total{outcome=\"ok\"} 0") != std::string::npos);
  CHECK(metrics.find("askd_refused_total{status=\"403\"} 0") == std::string::npos);
}

TEST_CASE("a page on an origin in server.cors_origins reads answers over fetch and WebSocket") {
  if (!have_browser()) return;
  fixed_port = free_port();
  e2e_env env([](askd::core::config& c) {
    c.server.port = fixed_port;
    c.server.cors_origins = {"http://localhost:" + std::to_string(fixed_port)};
  });
  REQUIRE(env.port == fixed_port);
  auto r = try_cross_origin(env.port, local_body("where is the retry loop?"));
  INFO(r.plain << " | " << r.json << " | " << r.ws << " | " << r.sse);
  CHECK(r.plain.rfind("read: 415", 0) == 0);  // allowed to read, still only JSON chats
  CHECK(r.json.rfind("read: 200", 0) == 0);
  CHECK(r.json.find("retry") != std::string::npos);
  CHECK(r.ws.rfind("read: ", 0) == 0);
  CHECK(r.ws.find("retry") != std::string::npos);
  CHECK(env.settles());
}
