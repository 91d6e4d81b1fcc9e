// The OpenAI-compatible provider: the request it builds, the stream it decodes (captured
// from OpenAI's API reference), and the error classes it maps responses to.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/json.hpp"
#include "providers/openai.hpp"
#include "tests/support/collected_events.hpp"

using namespace askd;
using namespace askd::providers;
using askd::test::collected;

namespace {
core::config cfg_with_key() {
  core::load_options o;
  o.getenv = [](const char* n) {
    return std::string(n) == "OPENAI_API_KEY" ? std::string("sk-x") : std::string();
  };
  return core::load_config(o);
}

// As in OpenAI's "Create chat completion" streaming example.
const std::string captured =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]"
    "}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\" there\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":"
    "2,"
    "\"total_tokens\":11}}\n\n"
    "data: [DONE]\n\n";
}  // namespace

TEST_CASE("openai: the captured stream decodes in every split") {
  for (std::size_t cut = 0; cut <= captured.size(); cut += 7) {
    auto d = make_openai_decoder("openai");
    collected c;
    CHECK_FALSE(d->feed(std::string_view(captured).substr(0, cut), c));
    CHECK_FALSE(d->feed(std::string_view(captured).substr(cut), c));
    CHECK_FALSE(d->finish(c));
    CHECK(c.text == "Hello there");
    CHECK(c.finish == "stop");
    CHECK(c.usage_seen);
    CHECK(c.usage.prompt_tokens == 9);
    CHECK(c.usage.completion_tokens == 2);
  }
}

TEST_CASE("openai: a stream without its end is an upstream error; garbage is bad_response") {
  auto d = make_openai_decoder("openai");
  collected c;
  CHECK_FALSE(d->feed(captured.substr(0, captured.find("\n\n") + 2), c));
  auto e = d->finish(c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::upstream);
  CHECK(e->retryable);

  d = make_openai_decoder("openai");
  auto bad = d->feed("data: {oops\n\n", c);
  REQUIRE(bad);
  CHECK(bad->code == core::error_code::bad_response);
  CHECK_FALSE(bad->retryable);

  d = make_openai_decoder("openrouter");
  auto mid =
      d->feed("data: {\"error\":{\"message\":\"Provider returned error\",\"code\":502}}\n\n", c);
  REQUIRE(mid);
  CHECK(mid->code == core::error_code::upstream);
  CHECK(mid->message.find("openrouter") != std::string::npos);
}

TEST_CASE("openai: the request carries model - stream - parameters - key and messages") {
  auto cfg = cfg_with_key();
  openai_provider p(*cfg.generator.find("openai"), cfg.upstream);
  generation_request g;
  g.model = "gpt-4o";
  g.messages = {{"system", "be brief"}, {"user", "why \"quotes\"?\n"}};
  auto r = p.build(g);
  CHECK(r.url == "https://api.openai.com/v1/chat/completions");
  CHECK(std::find(r.headers->begin(), r.headers->end(), "Authorization: Bearer sk-x") !=
        r.headers->end());
  CHECK(r.body.find(R"("model":"gpt-4o","stream":true,"stream_options":{"include_usage":true})") ==
        1);
  CHECK(r.body.find(R"("temperature":0.7,"top_p":0.8)") != std::string::npos);
  CHECK(r.body.find(R"({"role":"user","content":"why \"quotes\"?\n"})") != std::string::npos);
}

TEST_CASE("openai: error responses map to the supervisor's classes") {
  auto cfg = cfg_with_key();
  openai_provider p(*cfg.generator.find("openai"), cfg.upstream);
  auto e = p.classify(
      401, R"({"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}})", "");
  CHECK(e.code == core::error_code::unauthorized);
  CHECK_FALSE(e.retryable);
  CHECK(e.message.find("OPENAI_API_KEY") != std::string::npos);
  e = p.classify(429, R"({"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}})",
                 "7");
  CHECK(e.code == core::error_code::rate_limited);
  CHECK(e.retryable);
  CHECK(e.retry_after_ms == 7000);
  e = p.classify(
      429, R"({"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}})",
      "");
  CHECK(e.code == core::error_code::rate_limited);
  CHECK_FALSE(e.retryable);
  e = p.classify(
      400,
      R"({"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}})",
      "");
  CHECK(e.code == core::error_code::context_length);
  e = p.classify(503, "<html>bad gateway</html>", "");
  CHECK(e.code == core::error_code::upstream);
  CHECK(e.retryable);
  CHECK(e.upstream_status == 503);
}

TEST_CASE("a provider with an unknown client_class stops the start - naming the key") {
  auto cfg = cfg_with_key();
  const_cast<core::provider_settings*>(cfg.generator.find("dashscope"))->client_class =
      "TelepathyClient";
  try {
    provider_registry r(cfg);
    FAIL("expected a config_error");
  } catch (const core::config_error& e) {
    CHECK(std::string(e.what()).find("providers.dashscope.client_class") != std::string::npos);
  }
}

TEST_CASE("openai: a streamed event is parsed without a block from the heap") {
  // One event of the captured stream in a small_document (the other decoders' way).
  auto first = captured.find("data: ") + 6;
  auto event = captured.substr(first, captured.find("\n\n") - first);
  core::json::small_document parsed;
  REQUIRE(parsed.parse(event));
  auto& doc = parsed.doc();
  CHECK(doc["choices"][0]["delta"]["role"] == "assistant");
  CHECK_FALSE(parsed.spilled());
  // A large event still parses: it takes blocks from the heap past the buffers.
  core::json::small_document large;
  REQUIRE(large.parse("{\"content\":\"" + std::string(20000, 'x') + "\"}"));
  auto& big = large.doc();
  CHECK(big["content"].GetStringLength() == 20000);
  CHECK(large.spilled());
}

namespace {
// One event through a fresh decoder: the text, finish reason and usage it found, or the
// error class.
struct chunk_result {
  std::string text, finish;
  bool usage_seen = false;
  core::token_usage usage;
  std::optional<core::error_code> error;
};
chunk_result decode_one(const std::string& json) {
  auto d = make_openai_decoder("openai");
  collected c;
  chunk_result r;
  if (auto e = d->feed("data: " + json + "\n\n", c)) r.error = e->code;
  r.text = c.text;
  r.finish = c.finish;
  r.usage_seen = c.usage_seen;
  r.usage = c.usage;
  return r;
}
}  // namespace

TEST_CASE("openai: a chunk is read as its first members say - whatever else it holds") {
  // Members in any order, unknown ones (arrays, objects, nesting) skipped.
  auto r = decode_one(
      R"({"x":[{"choices":[1]}],"choices":[{"finish_reason":null,"delta":{"tool_calls":[{"a":{}}],)"
      R"("content":"Hi \"you\"\n"},"index":0},{"delta":{"content":"second choice"}}],"usage":null})");
  CHECK_FALSE(r.error);
  CHECK(r.text == "Hi \"you\"\n");
  CHECK(r.finish.empty());
  CHECK_FALSE(r.usage_seen);
  // The first of a repeated member counts, as a DOM lookup finds it.
  r = decode_one(R"({"choices":[{"delta":{"content":"one","content":"two"}}],"choices":7})");
  CHECK_FALSE(r.error);
  CHECK(r.text == "one");
  // An empty content or one that is not a string is no delta; a finish reason is any string.
  r = decode_one(R"({"choices":[{"delta":{"content":""},"finish_reason":""}]})");
  CHECK(r.text.empty());
  CHECK_FALSE(r.error);
  r = decode_one(R"({"choices":[{"delta":{"content":5},"finish_reason":"length"}]})");
  CHECK(r.text.empty());
  CHECK(r.finish == "length");
  // Usage: counts that fit, others left at zero.
  r = decode_one(
      R"({"choices":[],"usage":{"prompt_tokens":4294967296,"completion_tokens":18446744073709551615}})");
  CHECK(r.usage_seen);
  CHECK(r.usage.prompt_tokens == 4294967296);
  CHECK(r.usage.completion_tokens == 0);
  // A long content (past the reader's buffer) comes whole.
  std::string long_text(5000, 'y');
  r = decode_one(R"({"choices":[{"delta":{"content":")" + long_text + R"("}}]})");
  CHECK(r.text == long_text);
}

TEST_CASE("openai: a malformed chunk says what is wrong; an error member is the provider's") {
  CHECK(decode_one(R"([1,2])").error == core::error_code::bad_response);
  CHECK(decode_one(R"("text")").error == core::error_code::bad_response);
  CHECK(decode_one(R"({"choices":{}})").error == core::error_code::bad_response);
  CHECK(decode_one(R"({"choices":null})").error == core::error_code::bad_response);
  CHECK(decode_one(R"({"choices":["text"]})").error == core::error_code::bad_response);
  CHECK(decode_one(R"({"choices":[{"delta":{"content":"x"}}]} trailing)").error ==
        core::error_code::bad_response);
  // Nothing is said from a chunk that turns out malformed after its delta.
  auto r = decode_one(R"({"choices":[{"delta":{"content":"x"}}],"oops")");
  CHECK(r.error == core::error_code::bad_response);
  CHECK(r.text.empty());
  // An error member, whatever else is there, ends the stream as an upstream error.
  r = decode_one(R"({"choices":[{"delta":{"content":"x"}}],"error":"overloaded"})");
  CHECK(r.error == core::error_code::upstream);
  CHECK(r.text.empty());
  // Nesting deep inside a skipped member is bounded like any other.
  std::string deep = "{\"x\":" + std::string(100, '[') + std::string(100, ']') + "}";
  CHECK(decode_one(deep).error == core::error_code::bad_response);
  std::string ok = "{\"x\":" + std::string(60, '[') + std::string(60, ']') + "}";
  CHECK_FALSE(decode_one(ok).error);
}

namespace {
// One decoder reads the chunks in turn (it learns the shape of text-only chunks and reads
// the next of that shape without its JSON reader); each must say what a fresh decoder
// says of it alone. The stream ends at the first error. Returns the text read.
std::string in_turn(const std::vector<std::string>& chunks) {
  auto d = make_openai_decoder("openai");
  std::string text;
  for (const auto& json : chunks) {
    INFO(json);
    auto alone = decode_one(json);
    collected c;
    auto e = d->feed("data: " + json + "\n\n", c);
    CHECK(c.text == alone.text);
    CHECK(c.finish == alone.finish);
    CHECK(c.usage_seen == alone.usage_seen);
    CHECK(c.usage.prompt_tokens == alone.usage.prompt_tokens);
    CHECK(e.has_value() == alone.error.has_value());
    text += c.text;
    if (e) {
      CHECK(e->code == *alone.error);
      break;
    }
  }
  return text;
}
const std::string p = R"({"id":"c","choices":[{"index":0,"delta":{"content":")";
const std::string s = R"("},"finish_reason":null}]})";
}  // namespace

TEST_CASE("openai: chunks in turn read as each would alone - whatever text they hold") {
  CHECK(in_turn({p + "Hel" + s, p + "lo" + s, p + R"(, \"hi\"\n)" + s, p + s, p + " wörld" + s,
                 p + R"(a"},"finish_reason":"stop","z":{"q":")" + s, p + "more" + s,
                 p + R"(x"},"finish_reason":"length"}]})", p + "a\x01" + s}) ==
        "Hello, \"hi\"\n wörldamorex");
  CHECK(in_turn({p + "x" + s, p + std::string("a\0b", 3) + s}) == "x");
  // An escaped text teaches its shape with the whole string as the hole: `ok"x` ends that
  // hole early and the bytes after it differ, so the chunk is read whole (and malformed).
  CHECK(in_turn({p + R"(\"\"x)" + s, p + R"(ok"x)" + s}) == "\"\"x");
}

TEST_CASE("openai: a chunk with a finish reason or usage teaches no shape") {
  // Taken as the shape, the second of each pair would lose its finish reason or usage.
  auto finished = [](const std::string& t) {
    return R"({"choices":[{"delta":{"content":")" + t + R"("},"finish_reason":"stop"}]})";
  };
  CHECK(in_turn({finished("a"), finished("b"), finished("c")}) == "abc");
  auto counted = [](const std::string& t) {
    return R"({"choices":[{"delta":{"content":")" + t + R"("}}],"usage":{"prompt_tokens":7}})";
  };
  CHECK(in_turn({counted("a"), counted("b"), counted("c")}) == "abc");
  // A role chunk first; usage and an error between and after text chunks.
  CHECK(in_turn({R"({"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},)"
                 R"("finish_reason":null}]})",
                 p + "a" + s, p + "b" + s, R"({"choices":[],"usage":{"prompt_tokens":1}})",
                 p + "c" + s, p + "d" + s,
                 R"({"id":"c","choices":[{"index":0,"delta":{"content":"e"}}],"error":1})"}) ==
        "abcd");
}

TEST_CASE("openai: OpenAI's padded chunks read as each would alone") {
  // As api.openai.com streams by default: each chunk padded with random characters in
  // "obfuscation" (stream_options.include_obfuscation).
  auto padded = [](const std::string& delta, const std::string& finish, int n) {
    return R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,)"
           R"("model":"gpt-4o-mini","choices":[{"index":0,"delta":{)" +
           delta + R"(},"logprobs":null,"finish_reason":)" + finish +
           R"(}],"usage":null,"obfuscation":")" + std::string(n % 7, char('a' + n % 26)) + R"("})";
  };
  std::vector<std::string> chunks{padded(R"("role":"assistant","content":"")", "null", 3)};
  std::string want;
  for (int i = 0; i < 40; ++i) {
    auto t = i % 9 == 4 ? std::string(R"(\n)") : "w" + std::to_string(i) + " ";
    want += i % 9 == 4 ? "\n" : t;
    chunks.push_back(padded(R"("content":")" + t + '"', "null", i * 5 + 1));
  }
  chunks.push_back(padded("", R"("stop")", 2));
  CHECK(in_turn(chunks) == want);
}
