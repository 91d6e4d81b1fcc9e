// Every JSON text askd reads is parsed within a depth limit, without recursion: a body
// nested 150,000 levels deep once overflowed the stack and killed askd (issue 17).
#include <catch2/catch.hpp>

#include "core/chat_request.hpp"
#include "core/json.hpp"
#include "providers/openai.hpp"
#include "tests/support/collected_events.hpp"
#include "tests/support/embedded_config.hpp"

using namespace askd;

namespace {
std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}
}  // namespace

TEST_CASE("nesting depth counts brackets outside strings only") {
  CHECK_FALSE(core::json::nests_deeper_than(nested(64), 64));
  CHECK(core::json::nests_deeper_than(nested(65), 64));
  CHECK_FALSE(core::json::nests_deeper_than("[\"" + std::string(500, '[') + "\"]", 64));
  // An escaped quote does not end the string; an escaped backslash does not escape it.
  CHECK_FALSE(core::json::nests_deeper_than("[\"\\\"" + std::string(500, '{') + "\"]", 64));
  CHECK(core::json::nests_deeper_than("[\"\\\\\"" + nested(70) + "]", 64));
  CHECK_FALSE(core::json::nests_deeper_than(std::string(10000, ']'), 64));
}

TEST_CASE("a body nested 150000 levels deep is a syntax error - not a crash") {
  rapidjson::Document doc;
  auto deep = nested(150000);
  REQUIRE_THROWS_AS(core::json::parse(deep, doc), core::json::syntax_error);
  try {
    core::json::parse(deep, doc);
  } catch (const core::json::syntax_error& e) {
    CHECK(std::string(e.what()) == "JSON nested deeper than 64 levels");
  }
  // Objects too, and unbalanced ones (never closed).
  CHECK_THROWS_AS(core::json::parse(std::string(150000, '{'), doc), core::json::syntax_error);
  CHECK_THROWS_AS(core::json::parse(std::string(300000, '['), doc), core::json::syntax_error);
  // Within the limit it parses as before.
  core::json::parse(nested(64), doc);
  CHECK(doc.IsArray());
}

TEST_CASE("a chat request nested too deep gets a 400 naming the limit") {
  auto cfg = test::embedded_config();
  auto body = R"({"repo_url":"https://github.com/a/b","messages":[{"role":"user","content":"hi"}],"x":)" +
              nested(150000) + "}";
  auto r = core::parse_chat_request(body, cfg);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == core::error_code::bad_request);
  CHECK(r.err().message == "body: JSON nested deeper than 64 levels");
}

TEST_CASE("a streamed event nested too deep is a malformed stream - not a crash") {
  auto d = providers::make_openai_decoder("openai");
  test::collected c;
  auto err = d->feed("data: " + nested(150000) + "\n\n", c);
  REQUIRE(err);
  CHECK(err->code == core::error_code::bad_response);
  CHECK_FALSE(err->retryable);
  core::json::small_document small;
  CHECK_FALSE(small.parse(nested(100000, '{', '}')));
  CHECK(small.parse(R"({"a":[1,2,{"b":3}]})"));
  CHECK(small.doc()["a"][2]["b"].GetInt() == 3);
}
