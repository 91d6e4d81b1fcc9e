// Every JSON text askd reads is parsed within a depth limit, without recursion: a body
// nested 150,000 levels deep once overflowed the stack and killed askd (issue 17).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

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

TEST_CASE("nesting depth counts brackets outside strings only - inside the one parse") {
  auto depth_of = [](const std::string& text) {
    rapidjson::Document doc;
    return core::json::parse_into(text, doc);
  };
  CHECK(depth_of(nested(64)));
  CHECK(depth_of(nested(65)).too_deep);
  CHECK(depth_of("[\"" + std::string(500, '[') + "\"]"));
  // An escaped quote does not end the string; an escaped backslash does not escape it.
  CHECK(depth_of("[\"\\\"" + std::string(500, '{') + "\"]"));
  CHECK(depth_of("[\"\\\\\"," + nested(70) + "]").too_deep);
  // Closing brackets alone are a syntax error, not a depth one.
  auto closing = depth_of(std::string(10000, ']'));
  CHECK_FALSE(closing);
  CHECK_FALSE(closing.too_deep);
  // Objects count as arrays do.
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += "{\"a\":";
  objects += "1" + std::string(65, '}');
  CHECK(depth_of(objects).too_deep);
  CHECK(depth_of(objects.substr(5, objects.size() - 6)));
}

TEST_CASE("a text read in place gives the same events - and the same depth limit") {
  struct strings {
    std::vector<std::string> seen;
    bool Null() { return true; }
    bool Bool(bool) { return true; }
    bool Int(int) { return true; }
    bool Uint(unsigned) { return true; }
    bool Int64(std::int64_t) { return true; }
    bool Uint64(std::uint64_t) { return true; }
    bool Double(double) { return true; }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return true; }
    bool String(const char* s, rapidjson::SizeType n, bool) {
      return seen.emplace_back(s, n), true;
    }
    bool Key(const char* s, rapidjson::SizeType n, bool c) { return String(s, n, c); }
    bool StartObject() { return true; }
    bool EndObject(rapidjson::SizeType) { return true; }
    bool StartArray() { return true; }
    bool EndArray(rapidjson::SizeType) { return true; }
  };
  std::string text = R"({"a\"b":["caf\u00e9\n",{"k":"v"}],"n":1})";
  strings copied, in_place;
  REQUIRE(core::json::read_events(text, copied));
  REQUIRE(core::json::read_events_in_place(text, in_place));
  CHECK(in_place.seen == copied.seen);
  CHECK(in_place.seen == std::vector<std::string>{"a\"b", "caf\xc3\xa9\n", "k", "v", "n"});
  auto deep = nested(100000);
  CHECK(core::json::read_events_in_place(deep, in_place).too_deep);
  auto ok = nested(64);
  CHECK(core::json::read_events_in_place(ok, in_place));
  // A byte order mark, or any of its bytes, is skipped by both.
  for (std::string marked : {"\xEF\xBB\xBF[1]", "\xBB[1]", "\xEF\xBF[1]", "\xBF\xBB[1]"}) {
    strings a, b;
    auto copied_ok = bool(core::json::read_events(marked, a));
    CHECK(copied_ok == bool(core::json::read_events_in_place(marked, b)));
  }
  // A NUL byte ends the text in both: what follows is not read; inside a string it is
  // an error in both.
  const std::string after("{\"a\":1}\0junk", 12), inside("{\"a\0\":1}", 9);
  for (bool first : {true, false}) {
    const auto& t = first ? after : inside;
    auto copy = t;
    strings a, b;
    auto copied_ok = bool(core::json::read_events(t, a));
    CHECK(copied_ok == bool(core::json::read_events_in_place(copy, b)));
    CHECK(copied_ok == first);
  }
}

TEST_CASE("a request body's UTF-8 is checked - ASCII and valid UTF-8 pass") {
  rapidjson::Document doc;
  core::json::parse(R"({"a":"plain ascii text, longer than eight bytes"})", doc);
  CHECK(doc["a"].GetStringLength() == 41);
  core::json::parse("{\"a\":\"caf\xc3\xa9 \xe2\x82\xac\"}", doc);
  CHECK(std::string(doc["a"].GetString()) == "caf\xc3\xa9 \xe2\x82\xac");
  CHECK_THROWS_AS(core::json::parse("{\"a\":\"bad \xc3\x28 byte\"}", doc),
                  core::json::syntax_error);
  CHECK_THROWS_AS(core::json::parse("{\"a\":\"\xff\"}", doc), core::json::syntax_error);
}

TEST_CASE("JSON escaping - eight bytes at a time - finds every byte that needs it") {
  // Each special byte at each position of a long run, so it falls in every lane of a word.
  for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
    for (std::size_t at = 0; at < 24; ++at) {
      std::string text(24, 'x');
      text[at] = special;
      std::string expected = text.substr(0, at) +
                             (special == '"'      ? "\\\""
                              : special == '\\'   ? "\\\\"
                              : special == '\n'   ? "\\n"
                              : special == '\x01' ? "\\u0001"
                                                  : "\\u001f") +
                             text.substr(at + 1);
      CHECK(core::json::quote(text) == '"' + expected + '"');
    }
  }
  // Bytes past ASCII and the ones around the limits pass as they are.
  std::string high = "\x7f\x80\xff\x20\x21\x5b\x5d caf\xc3\xa9 long enough";
  CHECK(core::json::quote(high) == '"' + high + '"');
}

TEST_CASE("JSON escaping - several bytes in a word that need it - matches a byte-by-byte escape") {
  // A marked byte can mark the bytes above it in the same word (a borrow), so words with
  // specials next to each other, to high bytes and to plain ones are checked against the
  // escape done one byte at a time, at every length up to 72 (sixteen-byte blocks, eight-
  // byte words and single bytes, each at every offset).
  auto one_by_one = [](std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
      if (c == '"')
        out += "\\\"";
      else if (c == '\\')
        out += "\\\\";
      else if (c == '\n')
        out += "\\n";
      else if (c == '\r')
        out += "\\r";
      else if (c == '\t')
        out += "\\t";
      else if (c == '\b')
        out += "\\b";
      else if (c == '\f')
        out += "\\f";
      else if (c < 0x20) {
        char u[8];
        std::snprintf(u, sizeof u, "\\u%04x", c);
        out += u;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + '"';
  };
  const std::string alphabet =
      std::string("\"\\\n\r\t\b\f\x01\x1f\x20\x21\x5b\x5d\x7f\x80\xa0\xdf\xff") +
      std::string(1, '\0') + "ab";
  std::mt19937 rng(21);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), length(0, 72);
  for (int round = 0; round < 20000; ++round) {
    std::string text(length(rng), 'x');
    for (auto& c : text) c = alphabet[pick(rng)];
    INFO("round " << round);
    REQUIRE(core::json::quote(text) == one_by_one(text));
    // The run before the first byte that needs an escape, as the escape finds it.
    auto first = std::find_if(text.begin(), text.end(), [](char c) {
      return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
    });
    REQUIRE(core::json::unescaped_run(text) == static_cast<std::size_t>(first - text.begin()));
  }
  // Appended after what the string already holds.
  std::string out = "{\"a\":\"";
  core::json::append_escaped(out, "two\nlines \"quoted\"");
  CHECK(out == "{\"a\":\"two\\nlines \\\"quoted\\\"");
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
  auto body =
      R"({"repo_url":"https://github.com/a/b","messages":[{"role":"user","content":"hi"}],"x":)" +
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
