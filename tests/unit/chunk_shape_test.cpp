// providers::chunk_shape: the bytes a chunk shares with the ones before, and the text a
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
chunk_shape learned(const std::string& text = "Hel") {
  chunk_shape shape;
  shape.learn(chunk(text), before.size(), text.size());
  return shape;
}

// OpenAI's chunks as its API sends them by default: random characters in "obfuscation".
const std::string padded_before =
    R"({"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")";
std::string padded(const std::string& text, const std::string& pad) {
  return padded_before + text + R"("},"finish_reason":null}],"obfuscation":")" + pad + R"("})";
}
void learn_padded(chunk_shape& shape, const std::string& text, const std::string& pad) {
  shape.learn(padded(text, pad), padded_before.size(), text.size());
}
}  // namespace

TEST_CASE("chunk_shape: nothing matches before a chunk is learned - and no miss is counted") {
  chunk_shape shape;
  CHECK_FALSE(shape.match("{}"));
  CHECK_FALSE(shape.match("x"));
  for (int i = 0; i < 8; ++i) CHECK_FALSE(shape.match(chunk("Hel")));
  shape.learn(chunk("Hel"), before.size(), 3);
  CHECK(shape.match(chunk("lo")) == "lo");
}

TEST_CASE("chunk_shape: a chunk of the learned shape gives its text") {
  auto shape = learned();
  CHECK(shape.match(chunk("lo, wörld")) == "lo, wörld");
  CHECK(shape.match(chunk("")) == "");
  // Other bytes around the text, or too few of them: read whole.
  CHECK_FALSE(shape.match(R"({"id":"c2","choices":[{"index":0,"delta":{"content":"x"}}]})"));
  CHECK_FALSE(shape.match(chunk("x") + " "));
  CHECK_FALSE(shape.match(before));
  CHECK_FALSE(shape.match(before + "x"));
}

TEST_CASE("chunk_shape: a text with a quote - an escape or a control byte is read whole") {
  auto shape = learned();
  // A quote could close the string early (what follows would be members, not text), an
  // escape decodes to other bytes, a raw control byte (NUL too) is malformed.
  CHECK_FALSE(shape.match(chunk(R"(a"},"finish_reason":"stop","z":{"q":")")));
  CHECK_FALSE(shape.match(chunk(R"(say \"hi\"\n)")));
  CHECK_FALSE(shape.match(chunk("a\tb")));
  CHECK_FALSE(shape.match(chunk(std::string("a\0b", 3))));
  // None of those is a miss of the shape: many in a row still leave it in use.
  for (int i = 0; i < 8; ++i) CHECK_FALSE(shape.match(chunk(R"(line\n)")));
  CHECK(shape.match(chunk("again")) == "again");
}

TEST_CASE("chunk_shape: a text escaped - misplaced or too large to keep teaches no shape") {
  // {"content":"\"\"x"} decodes to 3 bytes, and raw[at + 3] happens to be a quote: taken
  // as the shape, P + `ok"x` + S would read as "ok" where a reader finds malformed JSON.
  chunk_shape escaped;
  escaped.learn(chunk(R"(\"\"x)"), before.size(), 3);
  CHECK_FALSE(escaped.match(before + R"(ok"x)" + after));
  // A span that is not the whole string: the text would lose the bytes beside it.
  chunk_shape inside;
  inside.learn(chunk("abc"), before.size() + 1, 2);
  CHECK_FALSE(inside.match(chunk("azz")));
  chunk_shape short_of_end;
  short_of_end.learn(chunk("abc"), before.size(), 2);
  CHECK_FALSE(short_of_end.match(before + "zzc" + after));
  // A stream may not pin a large chunk's bytes for its life.
  chunk_shape large;
  std::string big_before = R"({"x":")" + std::string(5000, 'p') + R"(","c":")";
  large.learn(big_before + "t" + after, big_before.size(), 1);
  CHECK_FALSE(large.match(big_before + "u" + after));
}

TEST_CASE("chunk_shape: a string value that differs from chunk to chunk becomes a second hole") {
  chunk_shape shape;
  learn_padded(shape, "a", "xy");
  CHECK_FALSE(shape.match(padded("b", "Qrs1")));  // one hole so far: a miss
  learn_padded(shape, "b", "Qrs1");
  CHECK(shape.match(padded("c", "z")) == "c");
  CHECK(shape.match(padded("", "")) == "");
  CHECK(shape.match(padded("long text", "0123456789abcdef")) == "long text");
  // Escapes in either hole: read whole.
  CHECK_FALSE(shape.match(padded(R"(a\n)", "z")));
  CHECK_FALSE(shape.match(padded("a", R"(z\")")));
  // The second hole may come before the text as well.
  auto nonce_first = [](const std::string& nonce, const std::string& text) {
    return R"({"nonce":")" + nonce + R"(","choices":[{"delta":{"content":")" + text + R"("}}]})";
  };
  auto at = [&](const std::string& nonce) { return nonce_first(nonce, "").find("t\":\"") + 4; };
  chunk_shape first;
  first.learn(nonce_first("n1", "one"), at("n1"), 3);
  first.learn(nonce_first("n22", "two"), at("n22"), 3);
  CHECK(first.match(nonce_first("", "three")) == "three");
  CHECK(first.match(nonce_first("n4444", "")) == "");
}

TEST_CASE("chunk_shape: what varies besides the text must be a value - not a name or a number") {
  auto text_at = [](const std::string& raw) { return raw.find("t\":\"") + 4; };
  auto learn_pair = [&](const std::string& a, const std::string& b) {
    chunk_shape shape;
    shape.learn(a, text_at(a), 1);
    shape.learn(b, text_at(b), 1);
    return shape;
  };
  auto shaped = [](const std::string& head) {
    return [head](const std::string& text) {
      return head + R"(,"choices":[{"delta":{"content":")" + text + R"("}}]})";
    };
  };
  // Names: a varying name could be "error" next time.
  auto named = [&](const std::string& name) { return shaped(R"({")" + name + R"(":"v")"); };
  auto by_name = learn_pair(named("k1")("a"), named("k2")("b"));
  CHECK_FALSE(by_name.match(named("error")("c")));
  CHECK(by_name.match(named("k2")("c")) == "c");  // the second chunk's own shape
  // A number is no string: no hole.
  auto created = [&](int n) { return shaped(R"({"created":)" + std::to_string(n)); };
  CHECK_FALSE(learn_pair(created(1)("a"), created(2)("b")).match(created(3)("c")));
}

TEST_CASE("chunk_shape: chunks that differ each time are read whole for good") {
  chunk_shape shape;
  auto nonce = [](int i) {
    return R"({"n":)" + std::to_string(i) + R"(,"choices":[{"delta":{"content":"t"}}]})";
  };
  auto at = nonce(0).find("\"t\"") + 1;
  for (int i = 0; i < 3; ++i) {
    shape.learn(nonce(i), at, 1);
    CHECK_FALSE(shape.match(nonce(i + 1)));  // a miss: the number differs
  }
  // A hit ends the run of misses.
  shape.learn(nonce(3), at, 1);
  CHECK(shape.match(nonce(3)) == "t");
  for (int i = 0; i < 3; ++i) CHECK_FALSE(shape.match(nonce(4)));
  CHECK(shape.match(nonce(3)) == "t");
  // Four misses in a row: the shape is not learned nor tried again.
  for (int i = 0; i < 4; ++i) CHECK_FALSE(shape.match(nonce(5)));
  CHECK_FALSE(shape.match(nonce(3)));
  shape.learn(nonce(6), at, 1);
  CHECK_FALSE(shape.match(nonce(6)));
}
