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
#include "tests/support/node_script.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {


const std::string chromium = "/usr/bin/chromium";
const std::string playwright = ASKD_NPM_DIR "/node_modules/playwright-core";

// Whether the browser can run here; says why not.
bool have_browser() {
  namespace fs = std::filesystem;
  if (fs::exists(chromium) && fs::exists(playwright) && have_node())
    return true;
  WARN("SKIPPED: needs " << chromium << ", node and " << playwright
                         << " (./dev test installs them; they could not be installed here)");
  return false;
}

// Runs tests/browser/<script> with askd's port, `body` and the browser; its JSON answer.
std::string run_page(const std::string& script, std::uint16_t port, const std::string& body) {
  auto out = run_command("node " ASKD_TESTS_DIR "/browser/" + script + " " + std::to_string(port) +
                         " " + shell_quote(body) + " " + playwright + " " + chromium + " 2>&1").out;
  INFO("browser: " << out);
  auto line = last_line(out);
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

namespace {

// The value at a dotted path ("first.state") of a page's JSON answer; null when absent.
const rapidjson::Value* at(const rapidjson::Value& v, const std::string& path) {
  const rapidjson::Value* cur = &v;
  std::size_t from = 0;
  while (cur && from <= path.size()) {
    auto dot = path.find('.', from);
    auto key = path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    if (!cur->IsObject() || !cur->HasMember(key.c_str())) return nullptr;
    cur = &(*cur)[key.c_str()];
    if (dot == std::string::npos) break;
    from = dot + 1;
  }
  return cur;
}
std::string text_at(const rapidjson::Value& v, const std::string& path) {
  auto* x = at(v, path);
  return x && x->IsString() ? x->GetString() : "<" + path + " missing>";
}
double number_at(const rapidjson::Value& v, const std::string& path) {
  auto* x = at(v, path);
  return x && x->IsNumber() ? x->GetDouble() : -1;
}
bool flag_at(const rapidjson::Value& v, const std::string& path) {
  auto* x = at(v, path);
  return x && x->IsBool() && x->GetBool();
}

}  // namespace

TEST_CASE("askd's own page: ask, sources, resume after going offline, stop") {
  if (!have_browser()) return;
  e2e_env env;
  // Exactly known and slow: 8-byte deltas 60 ms apart (~3.5 s), time enough to go offline
  // for a second in the middle. No apostrophes: the argument travels in shell quotes.
  const std::string answer =
      "## Heading\n\nThe retry policy waits longer after each failure, as `backoff` "
      "computes it:\n\n```cpp\nint backoff(int attempt) {\n  return 100 << attempt;  // ms\n}"
      "\n```\n\nThen the token bucket refills at a steady rate:\n\n- a caller takes a token per "
      "request\n- an empty bucket means wait\n\nNothing else throttles the callers."
      // A quoted file may hold markup meant to run: the page must leave it inert.
      "<img src=\"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7\" "
      "onload=\"window.pwned=1\"><script>window.pwned=2</script>";
  auto mock = [](const std::string& directive) { return " #mock" + directive; };
  namespace fs = std::filesystem;
  // Kept after the test for people to look at (the build's own directory).
  auto shots = (fs::path(ASKD_NPM_DIR).parent_path() / "web-shots").string();
  using askd::core::json::quote;
  auto arg = "{\"repo\":" + quote(ASKD_FIXTURES "/minirepo") + ",\"provider\":\"openai\"" +
             ",\"question\":" +
             quote("How does the retry policy back off?" +
                   mock("{\"text\":" + quote(answer) + ",\"chunk\":8,\"gap_ms\":60}")) +
             ",\"answer\":" + quote(answer) + ",\"slow_question\":" +
             quote("And the websocket session?" + mock(R"({"deltas":400,"gap_ms":40})")) +
             ",\"local_question\":\"How is the backoff delay computed?\"" +
             ",\"refused_repo\":\"/etc\",\"shots_dir\":" + quote(shots) + "}";
  REQUIRE(arg.find('\'') == std::string::npos);
  auto json = run_page("web_page.mjs", env.port, arg);
  rapidjson::Document d;
  askd::core::json::parse(json, d);
  INFO("screenshots in " << shots << "; the page saw: " << json);
  if (auto* failure = at(d, "failure")) FAIL("the page script stopped: " << failure->GetString());
  CHECK(d["console_errors"].Empty());  // a CSP violation would be one
  CHECK(text_at(d, "csp").find("script-src 'self'") != std::string::npos);
  CHECK(text_at(d, "default_provider") == "local");

  // The answer went offline for a second mid-stream and came back whole: the page
  // reconnected with Last-Event-ID and askd replayed what it had missed.
  CHECK(text_at(d, "offline_state") == "reconnecting");
  CHECK(text_at(d, "first.state") == "done");
  CHECK(flag_at(d, "first.text_exact"));
  CHECK(flag_at(d, "first.grew_after_offline"));
  CHECK(number_at(d, "first.drops") >= 1);
  CHECK(number_at(d, "first.reconnects") >= 1);
  CHECK(number_at(d, "first.turn_reconnects") == number_at(d, "first.reconnects"));
  CHECK(text_at(d, "first.progress_phase") == "retrieve");  // askd's progress was shown
  CHECK(flag_at(d, "first.progress_hidden"));               // and put away for the answer
  // Rendered as Markdown, its code highlighted, and its pixels not blank.
  CHECK(flag_at(d, "first.rendered.same_text"));
  CHECK(askd::core::json::write(*at(d, "first.rendered.h2")) == R"(["Heading"])");
  CHECK(number_at(d, "first.rendered.paragraphs") >= 3);
  CHECK(number_at(d, "first.rendered.code_blocks") == 1);
  CHECK(number_at(d, "first.rendered.highlighted_tokens") >= 1);
  // The quoted markup is shown as text: no element of it was built, nothing ran.
  CHECK(flag_at(d, "first.rendered.hostile.shown_as_text"));
  CHECK(number_at(d, "first.rendered.hostile.images") == 0);
  CHECK(number_at(d, "first.rendered.hostile.handlers") == 0);
  CHECK(number_at(d, "first.rendered.hostile.scripts") == 0);
  CHECK(text_at(d, "first.rendered.hostile.pwned") == "no");
  CHECK(flag_at(d, "first.answer_pixels.differ"));
  CHECK(number_at(d, "first.answer_pixels.shown") > 2 * number_at(d, "first.answer_pixels.blank"));

  // Sources from the fixture repository, each opening its excerpt (mouse and keyboard).
  CHECK(number_at(d, "sources.count") >= 1);
  const auto& excerpt = d["sources"]["excerpts"][0];
  CHECK(text_at(d, "sources.first_label").rfind(text_at(excerpt, "title"), 0) == 0);
  CHECK(number_at(excerpt, "lines") >= 1);
  CHECK(number_at(excerpt, "text") >= 1);
  CHECK(flag_at(d, "sources.closed_by_escape"));
  CHECK(text_at(d, "sources.state_after_escape") == "done");  // Esc closed, stopped nothing
  CHECK(flag_at(d, "sources.keyboard_opened"));
  CHECK(text_at(d, "sources.keyboard_label") ==
        "Open the excerpt " + text_at(d, "sources.keyboard_title"));

  // Stop: the follow-up carried the conversation; DELETE stopped askd's stream, and no
  // text came after.
  CHECK(number_at(d, "stop.history_sent") == 3);
  CHECK(text_at(d, "stop.state") == "stopped");
  CHECK(number_at(d, "stop.delete_status") == 204);
  CHECK(number_at(d, "stop.text_at_stop") > 0);
  CHECK_FALSE(flag_at(d, "stop.grew_after_stop"));
  CHECK(text_at(d, "stop.server_end") == "cancelled");
  CHECK(flag_at(d, "stop.ask_enabled"));
  CHECK(flag_at(d, "stop.stop_disabled"));

  // The dark theme, chosen and remembered; a new profile follows the system's.
  CHECK(text_at(d, "theme.dark_attr") == "dark");
  CHECK(text_at(d, "theme.dark_bg") != text_at(d, "theme.light_bg"));
  CHECK(flag_at(d, "theme.screens_differ"));
  CHECK(text_at(d, "theme.after_reload") == "dark");
  CHECK(flag_at(d, "local.follows_system_dark"));

  // No key, no model: the local provider answers by default.
  CHECK(text_at(d, "local.provider") == "local");
  CHECK(text_at(d, "local.state") == "done");
  CHECK(flag_at(d, "local.extractive"));
  CHECK(number_at(d, "local.sources") >= 1);
  // A repository askd does not allow: its refusal shown, the question kept to ask again.
  CHECK(text_at(d, "refused.status") == "error");
  CHECK(text_at(d, "refused.notice").find("/etc") != std::string::npos);
  CHECK(flag_at(d, "refused.question_kept"));
  CHECK_FALSE(flag_at(d, "refused.turn"));

  // Deep research with the local provider: its stages shown round by round to the last.
  CHECK(text_at(d, "research.state") == "done");
  CHECK(flag_at(d, "research.shown"));
  CHECK(number_at(d, "research.round") == 5);
  CHECK(text_at(d, "research.kind") == "conclusion");
  CHECK(askd::core::json::write(*at(d, "research.steps")) ==
        R"(["done","done","done","done","current"])");
  CHECK(askd::core::json::write(*at(d, "research.headings")) ==
        R"(["Research Plan","Research Update 2","Research Update 3","Research Update 4",)"
        R"("Final Conclusion"])");

  // Each screenshot a PNG with something on it.
  for (auto name : {"reconnecting", "answered", "excerpt", "stopped", "dark", "local-dark-narrow"})
    CHECK(number_at(d["shots"], name) > 20000);
  CHECK(env.settles());
}
