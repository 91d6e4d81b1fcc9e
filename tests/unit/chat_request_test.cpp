// PROTOCOL.md's validation table, rule by rule, at the parser (no sockets).
#include <catch2/catch.hpp>

#include "core/chat_request.hpp"
#include "core/config.hpp"
#include "tests/support/embedded_config.hpp"

using namespace askd;
using namespace askd::core;

namespace {

std::string detail(std::string_view body) {
  static const auto cfg = test::embedded_config();
  auto r = parse_chat_request(body, cfg);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == error_code::bad_request);
  CHECK(http_status(r.err().code) == 400);
  return r.err().message;
}
}  // namespace

TEST_CASE("a valid request gets the configured defaults") {
  auto cfg = test::embedded_config();
  auto r = parse_chat_request(
      R"({"repo_url":"https://github.com/a/b","messages":[{"role":"user","content":"hi"}]})", cfg);
  REQUIRE(r);
  CHECK(r->provider == "local");
  CHECK(r->model == "extractive");
  CHECK(r->language == "en");
  CHECK(r->type == "github");
  CHECK(r->messages.size() == 1);
}

TEST_CASE("every field of the deepwiki request is read") {
  auto cfg = test::embedded_config();
  auto r = parse_chat_request(R"({"repo_url":"https://gitlab.com/a/b","type":"gitlab","token":"t",
    "filePath":"src/x.cpp","provider":"openrouter","model":"openai/gpt-4o","language":"ja",
    "excluded_dirs":"a\nb","excluded_files":"*.min.js","included_dirs":"","included_files":"",
    "messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}]})",
                              cfg);
  REQUIRE(r);
  CHECK(r->type == "gitlab");
  CHECK(r->token == "t");
  CHECK(r->file_path == "src/x.cpp");
  CHECK(r->provider == "openrouter");
  CHECK(r->model == "openai/gpt-4o");
  CHECK(r->language == "ja");
  CHECK(r->excluded_dirs == "a\nb");
  CHECK(r->excluded_files == "*.min.js");
  CHECK(r->messages.size() == 3);
}

TEST_CASE("validation details say what is wrong and what was expected") {
  CHECK(detail("{").rfind("body: ", 0) == 0);
  CHECK(detail("[]").find("expected an object") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","messages":[]})") == "No messages provided");
  CHECK(
      detail(
          R"({"repo_url":"x","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]})") ==
      "Last message must be from the user");
  CHECK(detail(R"({"messages":[{"role":"user","content":"a"}]})").find("repo_url") !=
        std::string::npos);
  CHECK(detail(R"({"repo_url":"","messages":[{"role":"user","content":"a"}]})").find("repo_url") !=
        std::string::npos);
  CHECK(detail(R"({"repo_url":"x","messages":"hi"})").find("messages") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","messages":[{"role":"robot","content":"a"}]})")
            .find("messages[0].role") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","messages":[{"role":"user","content":1}]})")
            .find("messages[0].content") != std::string::npos);
  auto unknown =
      detail(R"({"repo_url":"x","provider":"acme","messages":[{"role":"user","content":"a"}]})");
  CHECK(unknown.find("unknown provider \"acme\"") != std::string::npos);
  CHECK(unknown.find("local, google, openai, openrouter, dashscope, ollama, azure, anthropic") !=
        std::string::npos);
  CHECK(detail(R"({"repo_url":"x","language":"tlh","messages":[{"role":"user","content":"a"}]})")
            .find("valid languages: en") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","type":"svn","messages":[{"role":"user","content":"a"}]})")
            .find("type") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","fallback":["nope"],"messages":[{"role":"user","content":"a"}]})")
            .find("fallback[0]") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","max_rounds":0,"messages":[{"role":"user","content":"a"}]})")
            .find("max_rounds") != std::string::npos);
  CHECK(detail(R"({"repo_url":"x","cache":"no","messages":[{"role":"user","content":"a"}]})")
            .find("cache") != std::string::npos);
}

TEST_CASE("the answer cache is asked unless a request says cache false") {
  auto cfg = test::embedded_config();
  auto on =
      parse_chat_request(R"({"repo_url":"x","messages":[{"role":"user","content":"a"}]})", cfg);
  auto off = parse_chat_request(
      R"({"repo_url":"x","cache":false,"messages":[{"role":"user","content":"a"}]})", cfg);
  REQUIRE(on);
  REQUIRE(off);
  CHECK(on->cache);
  CHECK_FALSE(off->cache);
}

TEST_CASE("a provider without custom models refuses a model it does not list") {
  auto cfg = test::embedded_config();
  auto* p = const_cast<provider_settings*>(cfg.generator.find("dashscope"));
  p->supports_custom_model = false;
  auto r = parse_chat_request(
      R"({"repo_url":"x","provider":"dashscope","model":"gpt-9","messages":[{"role":"user","content":"a"}]})",
      cfg);
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("valid models: qwen-plus, qwen-turbo") != std::string::npos);
}

TEST_CASE("filter rules are bounded in number and length per field") {
  auto body = [](const std::string& field, const std::string& value) {
    return R"({"repo_url":"x","messages":[{"role":"user","content":"a"}],")" + field + R"(":")" +
           value + R"("})";
  };
  std::string many;
  for (std::size_t i = 0; i < max_filter_rules + 44; ++i) many += "r" + std::to_string(i) + "\\n";
  CHECK(detail(body("excluded_files", many)) == "excluded_files: at most 256 rules, got 300");
  CHECK(detail(body("included_dirs", many)).rfind("included_dirs: at most 256 rules", 0) == 0);
  std::string list;  // exactly the limit, empties and spaces not counted
  for (std::size_t i = 0; i < max_filter_rules; ++i) list += " r" + std::to_string(i) + ", ,";
  auto cfg = test::embedded_config();
  CHECK(parse_chat_request(body("excluded_dirs", list), cfg));
  std::string longest(max_filter_rule_bytes, 'x');
  CHECK(parse_chat_request(body("included_files", "a," + longest), cfg));
  CHECK(detail(body("included_files", "a," + longest + "x")) ==
        "included_files: a rule is at most 512 bytes, rule 2 has 513");
  CHECK(detail(body("excluded_dirs", longest + "y")).rfind("excluded_dirs: ", 0) == 0);
}

TEST_CASE("a refusal never echoes a huge field back - values are cut after 40 bytes") {
  const std::string huge(100000, 'z');
  const std::string base = R"({"repo_url":"https://github.com/a/b",)";
  const std::string user = R"("messages":[{"role":"user","content":"hi"}])";
  const std::string cases[] = {
      base + R"("messages":[{"role":")" + huge + R"(","content":"hi"}]})",
      base + user + R"(,"type":")" + huge + R"("})",
      base + user + R"(,"provider":")" + huge + R"("})",
      base + user + R"(,"provider":"local","model":")" + huge + R"("})",
      base + user + R"(,"language":")" + huge + R"("})",
      base + user + R"(,"retrieval":{"mode":")" + huge + R"("}})",
      base + user + R"(,"retrieval":{"embedder":")" + huge + R"("}})",
      base + user + R"(,"fallback":[")" + huge + R"("]})",
  };
  for (const auto& body : cases) {
    auto d = detail(body);
    INFO(d.substr(0, 200));
    CHECK(d.size() < 400);
    CHECK(d.find("\"" + std::string(40, 'z') + "\"...") != std::string::npos);
  }
}
