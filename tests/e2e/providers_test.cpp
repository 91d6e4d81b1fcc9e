// Every provider's wire format end to end: askd calls askmock speaking that provider's
// format (askmock checks the request as the provider would: path, key header, body
// shape) and the client reads the answer exactly; each provider's error bodies map to
// the supervisor's classes; a stream that breaks mid-answer is continued.
#include <catch2/catch.hpp>

#include <mutex>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/log.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {

const std::string answer = "Streams are actors; naïve clients see 日本語 text — whole.";

struct wire {
  const char* provider;
  const char* path_part;   // in the target askmock was asked at
  const char* key_header;  // where the key went ("" for none)
  const char* key_value;   // how that header starts
};

const wire wires[] = {
    {"openai", "/v1/chat/completions", "authorization", "Bearer sk-test"},
    {"openrouter", "/v1/chat/completions", "authorization", "Bearer sk-test"},
    {"dashscope", "/v1/chat/completions", "authorization", "Bearer sk-test"},
    {"azure", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "api-key",
     "sk-test"},
    {"google", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "x-goog-api-key",
     "sk-test"},
    {"anthropic", "/v1/messages", "x-api-key", "sk-test"},
    {"ollama", "/api/chat", "", ""},
    {"bedrock", "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream", "authorization",
     "AWS4-HMAC-SHA256 Credential=sk-test/"},
};

std::string body_for(const char* provider, const std::string& mock) {
  return chat_body("What is this repo?", mock, provider);
}

}  // namespace

TEST_CASE("each provider's stream reaches the client exactly - whole and in order") {
  e2e_env env;
  for (const auto& w : wires) {
    for (const char* shape : {R"(,"chunk":3)", R"(,"chunk":2,"trickle_us":20)"}) {
      auto r = http_call(env.port, "POST", "/chat/completions/stream",
                         body_for(w.provider, R"({"text":")" + answer + "\"" + shape + "}"));
      INFO(w.provider << " " << shape << " -> " << r.body);
      CHECK(r.status == 200);
      CHECK(r.body == answer);
      CHECK(env.mock->last_target().find(w.path_part) != std::string::npos);
      if (*w.key_header) CHECK(env.mock->last_header(w.key_header).rfind(w.key_value, 0) == 0);
    }
  }
  CHECK(env.settles());
}

TEST_CASE("each provider gets the system prompt and the question in its own shape") {
  e2e_env env;
  for (const auto& w : wires) {
    auto r = http_call(env.port, "POST", "/chat/completions/stream",
                       body_for(w.provider, R"({"echo":true})"));
    INFO(w.provider << " -> " << r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("What is this repo?") != std::string::npos);
    auto sent = env.mock->last_body();
    INFO(sent);
    std::string provider = w.provider;
    if (provider == "google") {
      CHECK(sent.find(R"("systemInstruction":{"parts":[{"text":")") != std::string::npos);
      CHECK(sent.find(R"("generationConfig":{"temperature":1.0,"topP":0.8,"topK":20})") !=
            std::string::npos);
    } else if (provider == "anthropic") {
      CHECK(sent.find(R"("system":")") != std::string::npos);
      CHECK(sent.find(R"("max_tokens":8192)") != std::string::npos);
      CHECK(env.mock->last_header("anthropic-version") == "2023-06-01");
    } else if (provider == "bedrock") {
      CHECK(sent.find(R"("system":[{"text":")") != std::string::npos);
      CHECK(sent.find(R"("inferenceConfig":{"temperature":0.7,"topP":0.8})") != std::string::npos);
    } else if (provider == "ollama") {
      CHECK(sent.find(R"("options":{"temperature":0.7,"top_p":0.8,"num_ctx":32000})") !=
            std::string::npos);
      CHECK(sent.find(R"({"role":"system","content":")") != std::string::npos);
    } else {
      CHECK(sent.find(R"({"role":"system","content":")") != std::string::npos);
    }
  }
}

TEST_CASE("each provider's error responses map to the supervisor's classes") {
  e2e_env env;
  struct fault {
    std::string mock;
    std::string says;
  };
  for (const auto& w : wires) {
    std::string provider = w.provider;
    std::vector<fault> faults = {
        {R"({"fault":"status","status":500})", "provider " + provider + " failed (HTTP 500"},
        {R"({"fault":"status","status":429,"retry_after":0})", "rate limiting"},
        {R"({"fault":"status","status":400})", "too long"},
        {R"({"fault":"status","status":404})", "rejected the request (HTTP 404"},
        {R"({"fault":"malformed","after":0})", "malformed stream"},
    };
    if (provider != "ollama") faults.push_back({R"({"fault":"status","status":401})", "API key"});
    if (provider == "anthropic")
      faults.push_back({R"({"fault":"status","status":529})", "Overloaded (overloaded_error)"});
    if (provider == "google") {
      faults.push_back({R"({"fault":"status","status":503})", "UNAVAILABLE"});
      faults.push_back({R"({"fault":"status","status":429})", "RESOURCE_EXHAUSTED"});
    }
    for (const auto& f : faults) {
      auto r =
          http_call(env.port, "POST", "/chat/completions/stream", body_for(w.provider, f.mock));
      INFO(provider << " " << f.mock << " -> " << r.body);
      CHECK(r.status == 200);
      CHECK(r.body.rfind("\nError: ", 0) == 0);
      CHECK(r.body.find(f.says) != std::string::npos);
    }
  }
  CHECK(env.settles());
}

TEST_CASE("a wrong key is reported as the key - for each provider that takes one") {
  e2e_env env([](askd::core::config& c) {
    for (auto& p : c.generator.providers) p.api_key = p.secret_key = "sk-wrong";
  });
  for (const auto& w : wires) {
    if (!*w.key_header) continue;
    auto r = http_call(env.port, "POST", "/chat/completions/stream", body_for(w.provider, ""));
    INFO(w.provider << " -> " << r.body);
    CHECK(r.body.find("refused the API key") != std::string::npos);
  }
}

TEST_CASE("each provider's stream that breaks mid-answer is continued without a repeat") {
  e2e_env env([](askd::core::config& c) { c.upstream.idle_timeout_ms = 200; });
  const std::string text = "alpha beta gamma delta epsilon";
  int n = 0;
  for (const auto& w : wires) {
    for (const char* fault : {"cut", "error_event", "stall"}) {
      for (int after : {0, 3}) {
        auto key = std::string(w.provider) + std::to_string(++n);
        auto r = http_call(
            env.port, "POST", "/chat/completions/stream",
            body_for(w.provider, R"({"text":")" + text + R"(","chunk":5,"fault":")" + fault +
                                     R"(","after":)" + std::to_string(after) +
                                     R"(,"overlap":12,"fail_first":1,"key":")" + key + "\"}"));
        INFO(w.provider << " " << fault << " after " << after << " -> " << r.body);
        CHECK(r.body == text);
      }
    }
  }
  CHECK(env.settles());
}

TEST_CASE("ollama's <think> block is not part of the answer - however the stream splits it") {
  e2e_env env;
  const std::string streamed = "<think>Which file? The README.</think>\n\nThe answer is 42 <b>.";
  for (int chunk : {1, 2, 3, 5, 8, 64}) {
    auto r = http_call(env.port, "POST", "/chat/completions/stream",
                       body_for("ollama", R"({"text":)" + askd::core::json::quote(streamed) +
                                              R"(,"chunk":)" + std::to_string(chunk) + "}"));
    INFO("chunk " << chunk);
    CHECK(r.body == "The answer is 42 <b>.");
  }
}

TEST_CASE("a failed request's log line counts the provider calls it made") {
  std::mutex mutex;
  std::vector<std::string> lines;
  askd::core::set_log_sink([&](std::string_view line) {
    if (line.find("msg=request ") == std::string_view::npos) return;
    std::lock_guard lock(mutex);
    lines.emplace_back(line);
  });
  {
    e2e_env env([](askd::core::config& c) { c.limits.request_timeout_ms = 500; });
    // Refused as the key: not retried. A 500: tried max_attempts (3) times. Silent: cut
    // off by the request's deadline, its supervisor still waiting on the call.
    for (const char* mock :
         {R"({"fault":"status","status":401})", R"({"fault":"status","status":500})",
          R"({"fault":"stall","after":0})"}) {
      auto r = http_call(env.port, "POST", "/chat/completions/stream", body_for("openai", mock));
      CHECK(r.body.rfind("\nError: ", 0) == 0);
    }
    CHECK(env.settles());
  }
  askd::core::set_log_sink(nullptr);
  REQUIRE(lines.size() == 3);
  INFO(lines[0] << "\n" << lines[1] << "\n" << lines[2]);
  CHECK(lines[0].find("outcome=unauthorized") != std::string::npos);
  CHECK(lines[0].find(" attempts=1 ") != std::string::npos);
  CHECK(lines[1].find("outcome=upstream") != std::string::npos);
  CHECK(lines[1].find(" attempts=3 ") != std::string::npos);
  CHECK(lines[2].find("outcome=timeout") != std::string::npos);
  CHECK(lines[2].find(" attempts=1 ") != std::string::npos);
}
