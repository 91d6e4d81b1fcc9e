// A real browser (issue 5): Chromium's EventSource, its connection killed mid-answer,
// resumes by itself with Last-Event-ID and ends with the whole answer. Needs Debian's
// chromium and playwright-core from npm, which `./dev test` installs; where they could
// not be installed the test says so and checks nothing.
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

}  // namespace

TEST_CASE(
    "a browser EventSource whose connection is killed resumes and ends with the whole answer") {
  namespace fs = std::filesystem;
  const std::string chromium = "/usr/bin/chromium";
  const std::string playwright = ASKD_NPM_DIR "/node_modules/playwright-core";
  if (!fs::exists(chromium) || !fs::exists(playwright) || run("command -v node").empty()) {
    WARN("SKIPPED: needs " << chromium << ", node and " << playwright
                           << " (./dev test installs them; they could not be installed here)");
    return;
  }
  e2e_env env;
  const std::string answer =
      "The browser reconnects by itself and askd replays what it missed, so nothing is lost.";
  // The script starts the answer once the browser is up; it comes slowly (~1.5 s).
  auto body = chat_body("q", R"({"text":")" + answer + R"(","chunk":6,"gap_ms":100})");
  auto out = run("node " ASKD_TESTS_DIR "/browser/eventsource.mjs " + std::to_string(env.port) +
                 " '" + body + "' " + playwright + " " + chromium + " 2>&1");
  INFO("browser: " << out);
  auto json = out.substr(out.rfind('{') == std::string::npos ? 0 : out.rfind("{\""));
  REQUIRE(json.rfind("{\"", 0) == 0);
  rapidjson::Document d;
  askd::core::json::parse(json, d);
  askd::core::json::object_reader r(d, "");
  CHECK(r.boolean("cut") == true);         // the connection was killed mid-answer
  CHECK(r.integer("opens", 0, 100) >= 2);  // and the browser opened another
  CHECK(r.string_or("text", "") == answer);
}
