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
  shape.learn(chunk(text), before.size());
  return shape;
}

// OpenAI's chunks as its API sends them by default: random characters in "obfuscation".
const std::string padded_before =
    R"({"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")";
std::string padded(const std::string& text, const std::string& pad) {
  return padded_before + text + R"("},"finish_reason":null}],"obfuscation":")" + pad + R"("})";
}
void learn_padded(chunk_shape& shape, const std::string& text, const std::string& pad) {
  shape.learn(padded(text, pad), padded_before.size());
}
}  // namespace

TEST_CASE("chunk_shape: nothing matches before a chunk is learned - and no miss is counted") {
  chunk_shape shape;
  CHECK_FALSE(shape.match("{}"));
  CHECK_FALSE(shape.match("x"));
  for (int i = 0; i < 8; ++i) CHECK_FALSE(shape.match(chunk("Hel")));
  shape.learn(chunk("Hel"), before.size());
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
  // Escapes and control bytes in a hole are no miss of the shape (the quote above is, as
  // the bytes after it differ): many in a row still leave it in use.
  for (int i = 0; i < 8; ++i) CHECK_FALSE(shape.match(chunk(R"(line\n)")));
  CHECK(shape.match(chunk("again")) == "again");
}

TEST_CASE("chunk_shape: a chunk read whole for an escape in a hole leaves the shape as it is") {
  // Learning it again would cost a scan and an allocation for every line break; the
  // shape stays the one it matched up to the escape, even if its bytes differ after it.
  auto shape = learned();
  auto other_tail = before + R"(a\n"},"finish_reason":null,"extra":1}]})";
  CHECK_FALSE(shape.match(other_tail));
  shape.learn(other_tail, before.size());
  CHECK(shape.match(chunk("b")) == "b");
  // Without the escape it is learned as any chunk read whole.
  shape.learn(other_tail, before.size());
  CHECK_FALSE(shape.match(chunk("c")));
}

TEST_CASE(
    "chunk_shape: an escaped text teaches its shape - a misplaced one or a large chunk none") {
  // The hole is the whole string, wherever its escapes end it: {"content":"\"\"x"} read
  // as 3 bytes still makes P + `ok"x` + S no chunk of the shape (a reader finds it
  // malformed), while a plain text in the same bytes is one.
  chunk_shape escaped;
  escaped.learn(chunk(R"(\"\"x)"), before.size());
  CHECK_FALSE(escaped.match(before + R"(ok"x)" + after));
  CHECK(escaped.match(chunk("plain")) == "plain");
  // No string begins where the text is said to: nothing learned.
  chunk_shape inside;
  inside.learn(chunk("abc"), before.size() + 1);
  CHECK_FALSE(inside.match(chunk("azz")));
  CHECK_FALSE(inside.match(chunk("abc")));
  // A stream may not pin a large chunk's bytes for its life.
  chunk_shape large;
  std::string big_before = R"({"x":1,"y":")" + std::string(5000, 'p') + R"(","c":")";
  large.learn(big_before + "t" + after, big_before.size());
  CHECK_FALSE(large.match(big_before + "u" + after));
}

TEST_CASE("chunk_shape: every string value is a hole - OpenAI's padding and ids too") {
  chunk_shape shape;
  learn_padded(shape, "a", "xy");
  CHECK(shape.match(padded("b", "Qrs1")) == "b");
  CHECK(shape.match(padded("", "")) == "");
  CHECK(shape.match(padded("long text", "0123456789abcdef")) == "long text");
  // Escapes in any hole: read whole.
  CHECK_FALSE(shape.match(padded(R"(a\n)", "z")));
  CHECK_FALSE(shape.match(padded("a", R"(z\")")));
  // Before the text as well.
  auto nonce_first = [](const std::string& nonce, const std::string& text) {
    return R"({"nonce":")" + nonce + R"(","choices":[{"delta":{"content":")" + text + R"("}}]})";
  };
  chunk_shape first;
  first.learn(nonce_first("n1", "one"), nonce_first("n1", "").size() - 5);
  CHECK(first.match(nonce_first("", "three")) == "three");
  CHECK(first.match(nonce_first("n4444", "")) == "");
}

TEST_CASE("chunk_shape: names - numbers and escaped values stay in the shape as they are") {
  auto text_at = [](const std::string& raw) { return raw.find("t\":\"") + 4; };
  auto shaped = [](const std::string& head) {
    return [head](const std::string& text) {
      return head + R"(,"choices":[{"delta":{"content":")" + text + R"("}}]})";
    };
  };
  auto learned_from = [&](const std::string& raw) {
    chunk_shape shape;
    shape.learn(raw, text_at(raw));
    return shape;
  };
  // A member's name says what its value is: "error" next time is another chunk.
  auto named = [&](const std::string& name) { return shaped(R"({")" + name + R"(":"v")"); };
  auto by_name = learned_from(named("k1")("a"));
  CHECK_FALSE(by_name.match(named("error")("c")));
  CHECK(by_name.match(named("k1")("c")) == "c");
  // A name with space before its colon is a name all the same.
  auto spaced = [&](const std::string& name) { return shaped(R"({")" + name + R"(" :"v")"); };
  CHECK_FALSE(learned_from(spaced("k1")("a")).match(spaced("error")("c")));
  // An escaped quote does not end a string: here it is the value "a\"b", kept as it is,
  // so a chunk that closes the object after it is another chunk.
  auto quoted = [&](const std::string& tail) { return shaped(R"({"x":"a\"b")" + tail); };
  auto by_quoted = learned_from(quoted(R"(,"y":"V")")("a"));
  CHECK(by_quoted.match(quoted(R"(,"y":"W")")("b")) == "b");
  CHECK_FALSE(by_quoted.match(quoted(R"(}"y":"V")")("c")));
  auto created = [&](int n) { return shaped(R"({"created":)" + std::to_string(n)); };
  CHECK_FALSE(learned_from(created(1)("a")).match(created(2)("b")));
  auto escaped = [&](const std::string& v) { return shaped(R"({"m":")" + v + '"'); };
  auto by_escaped = learned_from(escaped(R"(a\nb)")("a"));
  CHECK(by_escaped.match(escaped(R"(a\nb)")("c")) == "c");
  CHECK_FALSE(by_escaped.match(escaped(R"(a\nc)")("c")));
}

TEST_CASE("chunk_shape: values past the holes' number stay in the shape - the text always a hole") {
  auto many = [](const std::string& first, const std::string& last, const std::string& text) {
    std::string raw = R"({"v0":")" + first + '"';
    for (int i = 1; i < 9; ++i) raw += R"(,"v)" + std::to_string(i) + R"(":"x")";
    return raw + R"(,"v9":")" + last + R"(","choices":[{"delta":{"content":")" + text + R"("}}]})";
  };
  chunk_shape shape;
  auto raw = many("a", "z", "t");
  shape.learn(raw, raw.size() - 6);
  CHECK(shape.match(many("b", "z", "u")) == "u");  // the first values are holes
  CHECK_FALSE(shape.match(many("a", "y", "u")));   // the tenth is not
}

TEST_CASE("chunk_shape: chunks that differ each time are read whole for good") {
  chunk_shape shape;
  auto nonce = [](int i) {
    return R"({"n":)" + std::to_string(i) + R"(,"choices":[{"delta":{"content":"t"}}]})";
  };
  auto at = nonce(0).find("\"t\"") + 1;
  for (int i = 0; i < 3; ++i) {
    shape.learn(nonce(i), at);
    CHECK_FALSE(shape.match(nonce(i + 1)));  // a miss: the number differs
  }
  // A hit ends the run of misses.
  shape.learn(nonce(3), at);
  CHECK(shape.match(nonce(3)) == "t");
  for (int i = 0; i < 2; ++i) CHECK_FALSE(shape.match(nonce(4)));
  CHECK_FALSE(shape.match(nonce(3).substr(0, at + 1)));  // cut inside a hole: a miss too
  CHECK(shape.match(nonce(3)) == "t");
  // Four misses in a row: the shape is not learned nor tried again.
  for (int i = 0; i < 3; ++i) CHECK_FALSE(shape.match(nonce(5)));
  CHECK_FALSE(shape.match(nonce(3).substr(0, at + 1)));
  CHECK_FALSE(shape.match(nonce(3)));
  shape.learn(nonce(6), at);
  CHECK_FALSE(shape.match(nonce(6)));
}
