// The Gemini, Anthropic, Ollama and Azure providers: the streams they decode (captured
// from each provider's public API documentation, in every split), the requests they
// build, and the error classes their error bodies map to.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/config.hpp"
#include "providers/anthropic.hpp"
#include "providers/azure.hpp"
#include "providers/google.hpp"
#include "providers/ollama.hpp"
#include "tests/support/collected_events.hpp"

using namespace askd;
using namespace askd::providers;
using askd::test::collected;

namespace {

core::config cfg_with_keys() {
  core::load_options o;
  o.getenv = [](const char* n) {
    std::string name = n;
    if (name == "AZURE_OPENAI_ENDPOINT") return std::string("https://askd.openai.azure.com");
    if (name.find("_KEY") != std::string::npos) return "key-" + name;
    return std::string();
  };
  return core::load_config(o);
}

bool has_header(const upstream_request& r, const std::string& h) {
  return std::find(r.headers->begin(), r.headers->end(), h) != r.headers->end();
}

// Feeds `stream` in two parts cut at every `step` bytes; `check` looks at each result.
template <class Make, class Check>
void every_split(const std::string& stream, std::size_t step, Make make, Check check) {
  for (std::size_t cut = 0; cut <= stream.size(); cut += step) {
    auto d = make();
    collected c;
    INFO("cut at " << cut);
    CHECK_FALSE(d->feed(std::string_view(stream).substr(0, cut), c));
    CHECK_FALSE(d->feed(std::string_view(stream).substr(cut), c));
    CHECK_FALSE(d->finish(c));
    check(c);
  }
}

// As Gemini's streamGenerateContent?alt=sse answers (API reference, "Generate content",
// streaming): CRLF-separated events, the last carrying finishReason and the token counts.
const std::string gemini_captured =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Once\"}],\"role\": "
    "\"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": "
    "8},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"**Thinking about "
    "dragons**\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": "
    "\"gemini-2.5-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" upon a time, in a land "
    "far away — 龍\"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": "
    "\"gemini-2.5-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \".\"}],\"role\": "
    "\"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": "
    "{\"promptTokenCount\": 8,\"candidatesTokenCount\": 12,\"totalTokenCount\": 20,"
    "\"thoughtsTokenCount\": 5},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n";

// As Anthropic's "Streaming Messages" documents a basic stream.
const std::string anthropic_captured =
    "event: message_start\n"
    "data: {\"type\": \"message_start\", \"message\": {\"id\": "
    "\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", "
    "\"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": "
    "\"claude-opus-4-20250514\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": "
    "{\"input_tokens\": 25, \"output_tokens\": 1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": "
    "\"text\", \"text\": \"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": "
    "\"text_delta\", \"text\": \"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": "
    "\"thinking_delta\", \"thinking\": \"Let me think\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": "
    "\"text_delta\", \"text\": \"!\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\": \"content_block_stop\", \"index\": 0}\n\n"
    "event: message_delta\n"
    "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", "
    "\"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\": \"message_stop\"}\n\n";

// As Ollama's API documentation shows a streamed /api/chat.
const std::string ollama_captured =
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{"
    "\"role\":\"assistant\",\"content\":\"The\",\"images\":null},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{"
    "\"role\":\"assistant\",\"content\":\" sky is blue\",\"images\":null},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{"
    "\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
    "\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,"
    "\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}\n";

}  // namespace

TEST_CASE("google: the captured stream decodes in every split - thoughts left out") {
  every_split(
      gemini_captured, 5, [] { return make_google_decoder("google"); },
      [](const collected& c) {
        CHECK(c.text == "Once upon a time, in a land far away — 龍.");
        CHECK(c.finish == "stop");
        CHECK(c.usage.prompt_tokens == 8);
        CHECK(c.usage.completion_tokens == 17);
      });
}

TEST_CASE("google: a stream without finishReason is cut short; blocked prompts and errors map") {
  collected c;
  auto d = make_google_decoder("google");
  CHECK_FALSE(d->feed(gemini_captured.substr(0, gemini_captured.find("\r\n\r\n") + 4), c));
  auto cut = d->finish(c);
  REQUIRE(cut);
  CHECK(cut->code == core::error_code::upstream);
  CHECK(cut->retryable);

  d = make_google_decoder("google");
  auto blocked = d->feed(
      "data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"},\"usageMetadata\": "
      "{\"promptTokenCount\": 8}}\r\n\r\n",
      c);
  REQUIRE(blocked);
  CHECK_FALSE(blocked->retryable);
  CHECK(blocked->message.find("blocked the prompt (SAFETY)") != std::string::npos);

  d = make_google_decoder("google");
  auto mid = d->feed(
      "data: {\"error\": {\"code\": 429,\"message\": \"Resource has been exhausted\",\"status\": "
      "\"RESOURCE_EXHAUSTED\"}}\r\n\r\n",
      c);
  REQUIRE(mid);
  CHECK(mid->code == core::error_code::rate_limited);

  d = make_google_decoder("google");
  auto refused = d->feed(
      "data: {\"error\": {\"code\": 400,\"message\": \"Invalid value\",\"status\": "
      "\"INVALID_ARGUMENT\"}}\r\n\r\n",
      c);
  REQUIRE(refused);
  CHECK_FALSE(refused->retryable);  // the same request would be refused again

  d = make_google_decoder("google");
  auto bad = d->feed("data: {\"candidates\": [\r\n\r\n", c);
  REQUIRE(bad);
  CHECK(bad->code == core::error_code::bad_response);

  d = make_google_decoder("google");
  collected safety;
  CHECK_FALSE(
      d->feed("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hm\"}],\"role\": "
              "\"model\"},\"finishReason\": \"SAFETY\",\"index\": 0}]}\r\n\r\n",
              safety));
  CHECK_FALSE(d->finish(safety));
  CHECK(safety.finish == "content_filter");
}

TEST_CASE("google: the request puts the system prompt - turns and generation config in place") {
  auto cfg = cfg_with_keys();
  google_provider p(*cfg.generator.find("google"), cfg.upstream);
  generation_request g;
  g.model = "gemini-2.5-flash";
  g.messages = {{"system", "be brief"}, {"user", "hi"}, {"assistant", "hello"}, {"user", "why?"}};
  auto r = p.build(g);
  CHECK(r.url ==
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:"
        "streamGenerateContent?alt=sse");
  CHECK(has_header(r, "x-goog-api-key: key-GOOGLE_API_KEY"));
  CHECK(
      r.body ==
      R"({"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"hello"}]},)"
      R"({"role":"user","parts":[{"text":"why?"}]}],"systemInstruction":{"parts":[{"text":"be brief"}]},)"
      R"("generationConfig":{"temperature":1.0,"topP":0.8,"topK":20}})");
}

TEST_CASE("google: error bodies map - a bad key is the key even as a 400") {
  auto cfg = cfg_with_keys();
  google_provider p(*cfg.generator.find("google"), cfg.upstream);
  auto e = p.classify(
      400,
      R"({"error": {"code": 400,"message": "API key not valid. Please pass a valid API key.","status": "INVALID_ARGUMENT",)"
      R"("details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo","reason": "API_KEY_INVALID"}]}})",
      "");
  CHECK(e.code == core::error_code::unauthorized);
  CHECK(e.message.find("GOOGLE_API_KEY") != std::string::npos);
  CHECK(e.upstream_status == 400);
  e = p.classify(
      429,
      R"({"error": {"code": 429,"message": "Resource has been exhausted (e.g. check quota).","status": "RESOURCE_EXHAUSTED"}})",
      "3");
  CHECK(e.code == core::error_code::rate_limited);
  CHECK(e.retry_after_ms == 3000);
  e = p.classify(
      400,
      R"({"error": {"code": 400,"message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status": "INVALID_ARGUMENT"}})",
      "");
  CHECK(e.code == core::error_code::context_length);
  e = p.classify(
      503,
      R"({"error": {"code": 503,"message": "The model is overloaded. Please try again later.","status": "UNAVAILABLE"}})",
      "");
  CHECK(e.code == core::error_code::upstream);
  CHECK(e.retryable);
  e = p.classify(
      504, R"({"error": {"code": 504,"message": "Deadline","status": "DEADLINE_EXCEEDED"}})", "");
  CHECK(e.code == core::error_code::timeout);
}

TEST_CASE("anthropic: the captured stream decodes in every split - thinking left out") {
  every_split(
      anthropic_captured, 7, [] { return make_anthropic_decoder("anthropic"); },
      [](const collected& c) {
        CHECK(c.text == "Hello!");
        CHECK(c.finish == "stop");
        CHECK(c.usage.prompt_tokens == 25);
        CHECK(c.usage.completion_tokens == 15);
      });
}

TEST_CASE("anthropic: an error event mid-stream maps by its type; no message_stop is cut short") {
  collected c;
  auto d = make_anthropic_decoder("anthropic");
  auto e = d->feed(
      "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
      "\"message\": \"Overloaded\"}}\n\n",
      c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::upstream);
  CHECK(e->retryable);
  CHECK(e->message.find("Overloaded (overloaded_error)") != std::string::npos);

  d = make_anthropic_decoder("anthropic");
  e = d->feed(
      "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"rate_limit_error\", "
      "\"message\": \"slow down\"}}\n\n",
      c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::rate_limited);

  d = make_anthropic_decoder("anthropic");
  CHECK_FALSE(d->feed(
      anthropic_captured.substr(0, anthropic_captured.find("event: content_block_stop")), c));
  auto cut = d->finish(c);
  REQUIRE(cut);
  CHECK(cut->message.find("message_stop") != std::string::npos);
}

TEST_CASE("anthropic: the request has max_tokens - the system prompt apart - and the key headers") {
  auto cfg = cfg_with_keys();
  anthropic_provider p(*cfg.generator.find("anthropic"), cfg.upstream);
  generation_request g;
  g.model = "claude-sonnet-4-5";
  g.messages = {{"system", "be brief"}, {"user", "why \"so\"?"}};
  auto r = p.build(g);
  CHECK(r.url == "https://api.anthropic.com/v1/messages");
  CHECK(has_header(r, "x-api-key: key-ANTHROPIC_API_KEY"));
  CHECK(has_header(r, "anthropic-version: 2023-06-01"));
  CHECK(r.body ==
        R"({"model":"claude-sonnet-4-5","stream":true,"max_tokens":8192,"temperature":0.7,)"
        R"("system":"be brief","messages":[{"role":"user","content":"why \"so\"?"}]})");
  g.model = "a-custom-model";  // not in conf: still a max_tokens, which the API requires
  CHECK(p.build(g).body.find(R"("max_tokens":8192)") != std::string::npos);
}

TEST_CASE("anthropic: error bodies map by their type") {
  auto cfg = cfg_with_keys();
  anthropic_provider p(*cfg.generator.find("anthropic"), cfg.upstream);
  auto e = p.classify(
      401,
      R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})",
      "");
  CHECK(e.code == core::error_code::unauthorized);
  CHECK(e.message.find("ANTHROPIC_API_KEY") != std::string::npos);
  e = p.classify(
      529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", "");
  CHECK(e.code == core::error_code::upstream);
  CHECK(e.retryable);
  e = p.classify(
      400,
      R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}})",
      "");
  CHECK(e.code == core::error_code::context_length);
  e = p.classify(429, R"({"type":"error","error":{"type":"rate_limit_error","message":"slow"}})",
                 "2");
  CHECK(e.code == core::error_code::rate_limited);
  CHECK(e.retry_after_ms == 2000);
}

TEST_CASE("ollama: the captured stream decodes in every split") {
  every_split(
      ollama_captured, 3, [] { return make_ollama_decoder("ollama", true); },
      [](const collected& c) {
        CHECK(c.text == "The sky is blue");
        CHECK(c.finish == "stop");
        CHECK(c.usage.prompt_tokens == 26);
        CHECK(c.usage.completion_tokens == 282);
      });
}

TEST_CASE("ollama: an error line ends the stream; a stream without done is cut short") {
  collected c;
  auto d = make_ollama_decoder("ollama", true);
  auto e = d->feed("{\"error\":\"llama runner process has terminated\"}\n", c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::upstream);
  CHECK(e->retryable);
  d = make_ollama_decoder("ollama", true);
  CHECK_FALSE(d->feed(ollama_captured.substr(0, ollama_captured.find('\n') + 1), c));
  auto cut = d->finish(c);
  REQUIRE(cut);
  CHECK(cut->message.find("no \"done\": true") != std::string::npos);
  d = make_ollama_decoder("ollama", true);
  auto bad = d->feed("{\"message\":\n", c);
  REQUIRE(bad);
  CHECK(bad->code == core::error_code::bad_response);
}

TEST_CASE("think_filter drops the leading <think> block split anywhere - and nothing after it") {
  auto run = [](const std::string& in, std::size_t step) {
    think_filter f;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += step)
      f.feed(std::string_view(in).substr(i, step), out);
    f.finish(out);
    return out;
  };
  const std::string in =
      "\n<think>step 1\nstep 2</think>\n\nAnswer: a <thin> line, x < y. The filter looks for "
      "the <think> tag, then </think> ends it.";
  const std::string want =
      "Answer: a <thin> line, x < y. The filter looks for the <think> tag, then </think> ends it.";
  for (std::size_t step = 1; step <= in.size(); ++step) {
    INFO("pieces of " << step);
    CHECK(run(in, step) == want);
  }
  CHECK(run("No block: <think>is text</think> here.", 3) ==
        "No block: <think>is text</think> here.");
  CHECK(run("<thi", 2) == "<thi");  // a start that never became a tag
  CHECK(run("<think>never closed", 4).empty());
}

TEST_CASE("ollama: the request sends the model's options as conf has them") {
  auto cfg = cfg_with_keys();
  ollama_provider p(*cfg.generator.find("ollama"), cfg.upstream);
  generation_request g;
  g.model = "qwen3:1.7b";
  g.messages = {{"system", "s"}, {"user", "u"}};
  auto r = p.build(g);
  CHECK(r.url == "http://localhost:11434/api/chat");
  CHECK(
      r.body ==
      R"({"model":"qwen3:1.7b","stream":true,"options":{"temperature":0.7,"top_p":0.8,"num_ctx":32000},)"
      R"("messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})");
}

TEST_CASE("azure: the deployment URL - api-version and the api-key header") {
  auto cfg = cfg_with_keys();
  azure_provider p(*cfg.generator.find("azure"), cfg.upstream);
  generation_request g;
  g.model = "gpt-4o";
  g.messages = {{"user", "u"}};
  auto r = p.build(g);
  CHECK(r.url ==
        "https://askd.openai.azure.com/openai/deployments/gpt-4o/chat/"
        "completions?api-version=2024-10-21");
  CHECK(has_header(r, "api-key: key-AZURE_OPENAI_API_KEY"));
  CHECK(std::none_of(r.headers->begin(), r.headers->end(),
                     [](const std::string& h) { return h.rfind("Authorization", 0) == 0; }));
}

TEST_CASE("a provider without its endpoint says which variable to set") {
  core::load_options o;
  o.getenv = [](const char*) { return std::string(); };
  auto cfg = core::load_config(o);
  provider_registry reg(cfg);
  auto missing = reg.find("azure")->missing_key();
  REQUIRE(missing);
  CHECK(missing->message.find("AZURE_OPENAI_ENDPOINT") != std::string::npos);
  CHECK_FALSE(reg.find("ollama")->missing_key());  // a default host, no key
}
