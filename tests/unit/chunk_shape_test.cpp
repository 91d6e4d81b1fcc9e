// providers::chunk_shape: the bytes a chunk shares with the one before, and the text a
// chunk of that shape holds.
#include <catch2/catch.hpp>

#include <string>

#include "providers/chunk_shape.hpp"

using askd::providers::chunk_shape;

namespace {
const std::string before = R"({"id":"c1","choices":[{"index":0,"delta":{"content":")";
const std::string after = R"("},"finish_reason":null}]})";
std::string chunk(const std::string& text) {
  return before + text + after;
}
}  // namespace

TEST_CASE("chunk_shape: a chunk of the learned shape gives its text") {
  chunk_shape shape;
  CHECK_FALSE(shape.text_of(chunk("Hel")));  // nothing learned yet
  shape.learn(chunk("Hel"), before.size(), 3);
  CHECK(shape.text_of(chunk("lo, wörld")) == "lo, wörld");
  CHECK(shape.text_of(chunk("")) == "");
  // Other bytes around the text, or too few of them: read whole.
  CHECK_FALSE(shape.text_of(R"({"id":"c2","choices":[{"index":0,"delta":{"content":"x"}}]})"));
  CHECK_FALSE(shape.text_of(chunk("x") + " "));
  CHECK_FALSE(shape.text_of(before));
  // A text with a quote, an escape or a control character is read whole: a quote could
  // close the string early (what follows it would be members, not text), an escape
  // decodes to other bytes, and a raw control character (NUL too) is malformed.
  CHECK_FALSE(shape.text_of(chunk(R"(a"},"finish_reason":"stop","z":")")));
  CHECK_FALSE(shape.text_of(chunk(R"(say \"hi\"\n)")));
  CHECK_FALSE(shape.text_of(chunk("a\tb")));
  CHECK_FALSE(shape.text_of(chunk(std::string("a\0b", 3))));
  CHECK(shape.text_of(chunk("again")) == "again");
}

TEST_CASE("chunk_shape: a text that was escaped in its chunk teaches no shape") {
  chunk_shape shape;
  // {"content":"\"\"x"} decodes to 3 bytes, and raw[at + 3] happens to be a quote: taken
  // as the shape, P + `ok"x` + S would read as "ok" where a reader finds malformed JSON.
  auto escaped = chunk(R"(\"\"x)");
  shape.learn(escaped, before.size(), 3);
  CHECK_FALSE(shape.text_of(before + R"(ok"x)" + after));
  // Positions that are not the string's own are refused too.
  shape.learn(chunk("abc"), before.size() - 1, 3);
  shape.learn(chunk("abc"), before.size(), 2);
  shape.learn(chunk("abc"), 0, 0);
  shape.learn(chunk("abc"), chunk("abc").size(), 0);
  CHECK_FALSE(shape.text_of(chunk("abc")));
}

TEST_CASE("chunk_shape: chunks that differ each time are read whole for good") {
  chunk_shape shape;
  auto nonce = [](int i) {
    return R"({"n":")" + std::to_string(i) + R"(","choices":[{"delta":{"content":"t"}}]})";
  };
  auto at = nonce(0).find("\"t\"") + 1;
  for (int i = 0; i < 3; ++i) {
    shape.learn(nonce(i), at, 1);
    CHECK_FALSE(shape.text_of(nonce(i + 1)));  // a miss: the nonce differs
  }
  // A hit ends the run of misses; an escaped text is no miss.
  shape.learn(nonce(3), at, 1);
  CHECK(shape.text_of(nonce(3)) == "t");
  for (int i = 0; i < 3; ++i) CHECK_FALSE(shape.text_of(nonce(4)));
  CHECK_FALSE(shape.text_of(R"({"n":"3","choices":[{"delta":{"content":"\n"}}]})"));
  CHECK(shape.text_of(nonce(3)) == "t");
  // Four misses in a row: the shape is not learned nor tried again.
  for (int i = 0; i < 4; ++i) CHECK_FALSE(shape.text_of(nonce(5)));
  CHECK_FALSE(shape.text_of(nonce(3)));
  shape.learn(nonce(6), at, 1);
  CHECK_FALSE(shape.text_of(nonce(6)));
}
