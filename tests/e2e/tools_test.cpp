// `ask` and `askload` as a user runs them: real processes against askd in this process.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "core/json.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {

std::string url(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace

TEST_CASE("askload verifies every answer exactly on each of askd's four faces") {
  e2e_env env;
  temp_dir dir;
  auto mix = dir.path + "/mix.jsonl";
  std::ofstream(mix) << chat_body("first", R"({"deltas":20})") << "\n"
                     << chat_body("second", R"({"words":30,"chunk":7})") << "\n";
  for (const char* target : {"compat-http", "compat-ws", "v1-sse", "v1-ws"}) {
    INFO(target);
    auto html = dir.path + "/" + target + ".html";
    auto r = run_command(std::string(ASKLOAD_BIN) + " --url " + url(env.port) + " --target " + target +
                 " -c 4 -n 12 --verify --json --quiet --mix " + mix + " --html " + html);
    CHECK(r.code == 0);
    rapidjson::Document d;
    askd::core::json::parse(r.out, d);
    CHECK(d["ok"].GetInt() == 12);
    CHECK(d["verify"]["exact"].GetInt() == 12);
    CHECK(d["ms"]["first_token"]["n"].GetInt() == 12);
    std::stringstream page;
    page << std::ifstream(html).rdbuf();
    CHECK(page.str().find("<svg") != std::string::npos);
    CHECK(page.str().find("<script") == std::string::npos);
  }
}

TEST_CASE("askload counts failures by class and exits 1") {
  e2e_env env([](askd::core::config& c) { c.auth.api_keys = {"k1"}; });
  auto r = run_command(std::string(ASKLOAD_BIN) + " --url " + url(env.port) + " -c 2 -n 4 --json --quiet");
  CHECK(r.code == 1);
  rapidjson::Document d;
  askd::core::json::parse(r.out, d);
  CHECK(d["outcomes"]["unauthorized"].GetInt() == 4);
}

TEST_CASE("askload refuses a target off this machine unless told") {
  auto r = run_command(std::string(ASKLOAD_BIN) + " --url http://10.1.2.3:8001 -n 1 2>&1");
  CHECK(r.code == 2);
  CHECK(r.out.find("--allow-remote") != std::string::npos);
}

TEST_CASE("ask streams the local provider's answer and exits with codes scripts can use") {
  e2e_env env;
  auto base = std::string(ASK_BIN) + " --server " + url(env.port);
  auto ok = run_command(base + " --repo " + ASKD_FIXTURES "/minirepo 'where is the config loaded?'");
  CHECK(ok.code == 0);
  CHECK(ok.out.find("local") != std::string::npos);

  auto compat = run_command(base + " --face compat --http --repo " + ASKD_FIXTURES "/minirepo 'config?'");
  CHECK(compat.code == 0);

  CHECK(run_command(base + " --repo / 'x' 2>/dev/null").code == 4);  // not an allowed root
  CHECK(run_command(base + " --repo . --provider nope 'x' 2>/dev/null").code == 3);
  CHECK(run_command(std::string(ASK_BIN) + " --server 127.0.0.1:1 --no-retry 'x' 2>/dev/null").code == 6);
  CHECK(run_command(std::string(ASK_BIN) + " 2>/dev/null").code == 2);
}

TEST_CASE("ask keeps the conversation across follow-up questions") {
  e2e_env env;
  // The second request must carry the first turn: question and answer.
  auto r = run_command(std::string(ASK_BIN) + " --server " + url(env.port) +
               " --repo https://github.com/askd/example --provider openai --retrieval none " +
               shell_quote("one #mock{\"text\":\"first answer\"}") + " two");
  CHECK(r.code == 0);
  auto last = env.mock->last_body();
  CHECK(last.find("first answer") != std::string::npos);
  CHECK(last.find("\"two") != std::string::npos);
}
