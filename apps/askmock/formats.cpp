#include "apps/askmock/formats.hpp"

#include <rapidjson/document.h>

#include <functional>
#include <stdexcept>

#include "core/json.hpp"
#include "providers/aws.hpp"

namespace askmock {
namespace json = askd::core::json;
using askd::net::request;

namespace {

std::string sse(std::string_view data, std::string_view sep = "\n\n") {
  std::string s;
  s.reserve(data.size() + 10);
  s += "data: ";
  s += data;
  s += sep;
  return s;
}

std::string named_sse(std::string_view event, std::string_view data) {
  return "event: " + std::string(event) + "\n" + sse(data);
}

// The text of a content that is a string or an array of {"type":"text","text":...}
// blocks (Anthropic), or of {"text":...} parts (Gemini).
std::string text_of_content(const rapidjson::Value& v, const std::string& where) {
  if (v.IsString()) return {v.GetString(), v.GetStringLength()};
  if (!v.IsArray()) throw json::field_error(where, "a string or an array", json::describe(v));
  std::string s;
  for (const auto& block : v.GetArray()) {
    json::object_reader b(block, where + "[]");
    s += b.string_or("text", "");
  }
  return s;
}

// -- OpenAI -------------------------------------------------------------------------

class openai_format : public wire_format {
 public:
  std::string_view name() const override { return "openai"; }

  bool authorized(const request& req, const std::string& key) const override {
    return req.header("authorization") == "Bearer " + key;
  }

  chat_call parse(const request& req) const override {
    rapidjson::Document doc;
    json::parse(req.body, doc);
    json::object_reader body(doc, "");
    chat_call c;
    c.model = model_of(req, body);
    if (body.boolean("stream") != true)
      throw std::runtime_error("only streaming is mocked; send \"stream\": true");
    c.include_usage = false;
    c.obfuscate = name() == "openai";
    if (auto so = body.object("stream_options")) {
      json::object_reader options(*so, "stream_options");
      c.include_usage = options.boolean("include_usage") == true;
      c.obfuscate = c.obfuscate && options.boolean("include_obfuscation") != false;
    }
    c.turns = turns_of(body.array("messages"));
    return c;
  }

  std::vector<std::string> head(const chat_call& c, const usage_counts&) const override {
    return {sse(chunk(c, "\"role\":\"assistant\",\"content\":\"\"", "null"))};
  }

  std::string delta(const chat_call& c, std::string_view text) const override {
    return sse(chunk(c, "\"content\":" + json::quote(text), "null"));
  }

  std::vector<std::string> tail(const chat_call& c, const usage_counts& u) const override {
    std::vector<std::string> t{sse(chunk(c, "", "\"stop\""))};
    if (c.include_usage)
      t.push_back(
          sse("{\"id\":\"chatcmpl-askmock\",\"object\":\"chat.completion.chunk\",\"created\":"
              "1700000000,\"model\":" +
              json::quote(c.model) + ",\"choices\":[],\"usage\":{\"prompt_tokens\":" +
              std::to_string(u.prompt) + ",\"completion_tokens\":" + std::to_string(u.completion) +
              ",\"total_tokens\":" + std::to_string(u.prompt + u.completion) + "}" +
              end_of(c, "usage")));
    t.push_back(sse("[DONE]"));
    return t;
  }

  // OpenAI's error bodies for the statuses tests inject.
  std::string error_body(int status, const chat_call&) const override {
    const char* message;
    const char* type;
    const char* code;
    switch (status) {
      case 400:
        message =
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131072 tokens. Please reduce the length of the messages.";
        type = "invalid_request_error";
        code = "\"context_length_exceeded\"";
        break;
      case 401:
        message =
            "Incorrect API key provided: sk-mock****. You can find your API key at "
            "https://platform.openai.com/account/api-keys.";
        type = "invalid_request_error";
        code = "\"invalid_api_key\"";
        break;
      case 403:
        message = "You are not allowed to sample from this model";
        type = "invalid_request_error";
        code = "null";
        break;
      case 404:
        message = "The model `mock` does not exist or you do not have access to it.";
        type = "invalid_request_error";
        code = "\"model_not_found\"";
        break;
      case 429:
        message = "Rate limit reached for requests. Please try again in 1s.";
        type = "requests";
        code = "\"rate_limit_exceeded\"";
        break;
      case 503:
        message = "The engine is currently overloaded, please try again later";
        type = "server_error";
        code = "null";
        break;
      default:
        message = "The server had an error while processing your request. Sorry about that!";
        type = "server_error";
        code = "null";
    }
    return std::string("{\"error\":{\"message\":") + json::quote(message) + ",\"type\":\"" + type +
           "\",\"param\":null,\"code\":" + code + "}}";
  }

  std::string bad_request_body(const std::string& message) const override {
    return "{\"error\":{\"message\":" + json::quote("askmock: " + message) +
           ",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}";
  }

  std::string error_event() const override {
    return sse(
        "{\"error\":{\"message\":\"The server had an error while processing your request.\","
        "\"type\":\"server_error\",\"code\":502}}");
  }

  std::string nested() const override { return sse(deep_json()); }

  std::string malformed() const override {
    return "data: {\"choices\":[{\"delta\":{\"content\":\"oops\n\n";
  }

 protected:
  virtual std::string model_of(const request&, const json::object_reader& body) const {
    return body.required_string("model");
  }

 private:
  static std::string chunk(const chat_call& c, std::string_view delta_fields,
                           std::string_view finish) {
    auto text =
        "{\"id\":\"chatcmpl-askmock\",\"object\":\"chat.completion.chunk\",\"created\":"
        "1700000000,\"model\":" +
        json::quote(c.model) + ",\"choices\":[{\"index\":0,\"delta\":{" +
        std::string(delta_fields) + "},\"finish_reason\":" + std::string(finish) + "}]";
    return text + end_of(c, delta_fields);
  }

  // A chunk's closing brace, after OpenAI's padding when the call has it.
  static std::string end_of(const chat_call& c, std::string_view seed) {
    return c.obfuscate ? ",\"obfuscation\":\"" + padding(seed) + "\"}" : "}";
  }

  // 1 to 16 letters and digits, as varied as OpenAI's: drawn from the chunk's own fields,
  // so a test sees the same bytes every run.
  static std::string padding(std::string_view seed) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    auto h = std::hash<std::string_view>{}(seed);
    std::string pad(1 + h % 16, 'x');
    for (auto& ch : pad) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      ch = alphabet[(h >> 33) % 62];
    }
    return pad;
  }
};

// Azure OpenAI: OpenAI's stream at /openai/deployments/{deployment}/chat/completions
// ?api-version=..., the key in `api-key`, the deployment naming the model.
class azure_format : public openai_format {
 public:
  std::string_view name() const override { return "azure"; }

  bool authorized(const request& req, const std::string& key) const override {
    return req.header("api-key") == key;
  }

 protected:
  std::string model_of(const request& req, const json::object_reader&) const override {
    if (req.query_param("api-version").empty())
      throw std::runtime_error("Missing required query parameter: api-version");
    auto p = std::string_view(req.path);
    auto at = p.find("/openai/deployments/") + 20;
    return std::string(p.substr(at, p.find('/', at) - at));
  }
};

// -- Gemini -------------------------------------------------------------------------

class gemini_format : public wire_format {
 public:
  std::string_view name() const override { return "google"; }

  bool authorized(const request& req, const std::string& key) const override {
    return req.header("x-goog-api-key") == key || req.query_param("key") == key;
  }
  // Gemini answers a wrong key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID).
  std::pair<int, std::string> unauthorized() const override {
    return {400,
            "{\"error\": {\"code\": 400,\"message\": \"API key not valid. Please pass a valid "
            "API key.\",\"status\": \"INVALID_ARGUMENT\",\"details\": [{\"@type\": "
            "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\": \"API_KEY_INVALID\","
            "\"domain\": \"googleapis.com\"}]}}"};
  }

  chat_call parse(const request& req) const override {
    if (req.query_param("alt") != "sse")
      throw std::runtime_error("only streaming with alt=sse is mocked");
    chat_call c;
    auto p = std::string_view(req.path);
    auto at = p.find("/models/") + 8;
    c.model = std::string(p.substr(at, p.find(':', at) - at));
    rapidjson::Document doc;
    json::parse(req.body, doc);
    json::object_reader body(doc, "");
    if (auto si = body.object("systemInstruction")) {
      json::object_reader s(*si, "systemInstruction");
      if (const auto* parts = s.array("parts"))
        c.turns.push_back({"system", text_of_content(*parts, "systemInstruction.parts")});
    }
    const auto* contents = body.array("contents");
    if (!contents || contents->Empty())
      throw std::runtime_error("contents: expected a non-empty array");
    for (const auto& m : contents->GetArray()) {
      json::object_reader mr(m, "contents[]");
      auto role = mr.string_or("role", "user");
      const auto* parts = mr.array("parts");
      if (!parts) throw json::field_error("contents[].parts", "an array", "nothing");
      c.turns.push_back(
          {role == "model" ? "assistant" : "user", text_of_content(*parts, "contents[].parts")});
    }
    return c;
  }

  std::vector<std::string> head(const chat_call&, const usage_counts&) const override { return {}; }

  std::string delta(const chat_call& c, std::string_view text) const override {
    return sse("{\"candidates\": [{\"content\": {\"parts\": [{\"text\": " + json::quote(text) +
                   "}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": " +
                   json::quote(c.model) + "}",
               "\r\n\r\n");
  }

  std::vector<std::string> tail(const chat_call& c, const usage_counts& u) const override {
    return {
        sse("{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": "
            "\"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": "
            "{\"promptTokenCount\": " +
                std::to_string(u.prompt) +
                ",\"candidatesTokenCount\": " + std::to_string(u.completion) +
                ",\"totalTokenCount\": " + std::to_string(u.prompt + u.completion) +
                "},\"modelVersion\": " + json::quote(c.model) + "}",
            "\r\n\r\n")};
  }

  std::string error_body(int status, const chat_call& c) const override {
    const char* word;
    std::string message;
    switch (status) {
      case 400:
        word = "INVALID_ARGUMENT";
        message =
            "The input token count (1200000) exceeds the maximum number of tokens allowed "
            "(1048576).";
        break;
      case 401:
        word = "UNAUTHENTICATED";
        message = "Request had invalid authentication credentials.";
        break;
      case 403:
        word = "PERMISSION_DENIED";
        message = "Method doesn't allow unregistered callers.";
        break;
      case 404:
        word = "NOT_FOUND";
        message = "models/" + c.model + " is not found for API version v1beta";
        break;
      case 429:
        word = "RESOURCE_EXHAUSTED";
        message = "You exceeded your current quota, please check your plan and billing details.";
        break;
      case 503:
        word = "UNAVAILABLE";
        message = "The model is overloaded. Please try again later.";
        break;
      case 504:
        word = "DEADLINE_EXCEEDED";
        message = "The request timed out. Please try again.";
        break;
      default:
        word = "INTERNAL";
        message =
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting";
    }
    return "{\"error\": {\"code\": " + std::to_string(status) +
           ",\"message\": " + json::quote(message) + ",\"status\": \"" + word + "\"}}";
  }

  std::string bad_request_body(const std::string& message) const override {
    return "{\"error\": {\"code\": 400,\"message\": " + json::quote("askmock: " + message) +
           ",\"status\": \"INVALID_ARGUMENT\"}}";
  }

  std::string error_event() const override {
    return sse(
        "{\"error\": {\"code\": 500,\"message\": \"An internal error has occurred.\",\"status\": "
        "\"INTERNAL\"}}",
        "\r\n\r\n");
  }

  std::string nested() const override { return sse(deep_json(), "\r\n\r\n"); }

  std::string malformed() const override {
    return "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"oops\r\n\r\n";
  }
};

// -- Anthropic ----------------------------------------------------------------------

class anthropic_format : public wire_format {
 public:
  std::string_view name() const override { return "anthropic"; }

  bool authorized(const request& req, const std::string& key) const override {
    return req.header("x-api-key") == key;
  }

  chat_call parse(const request& req) const override {
    if (req.header("anthropic-version").empty())
      throw std::runtime_error("anthropic-version: header is required");
    rapidjson::Document doc;
    json::parse(req.body, doc);
    json::object_reader body(doc, "");
    chat_call c;
    c.model = body.required_string("model");
    if (!body.integer("max_tokens", 1, 1 << 30))
      throw std::runtime_error("max_tokens: Field required");
    if (body.boolean("stream") != true)
      throw std::runtime_error("only streaming is mocked; send \"stream\": true");
    if (body.has("system"))
      c.turns.push_back({"system", text_of_content(body.value()["system"], "system")});
    const auto* messages = body.array("messages");
    if (!messages || messages->Empty())
      throw std::runtime_error("messages: at least one message is required");
    for (const auto& m : messages->GetArray()) {
      json::object_reader mr(m, "messages[]");
      auto role = mr.required_string("role");
      if (role != "user" && role != "assistant")
        throw json::field_error("messages[].role", "\"user\" or \"assistant\"", json::quote(role));
      if (!mr.has("content")) throw json::field_error("messages[].content", "content", "nothing");
      c.turns.push_back({role, text_of_content(m["content"], "messages[].content")});
    }
    return c;
  }

  std::vector<std::string> head(const chat_call& c, const usage_counts& u) const override {
    return {named_sse("message_start",
                      "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_askmock\",\"type\":"
                      "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":" +
                          json::quote(c.model) +
                          ",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_"
                          "tokens\":" +
                          std::to_string(u.prompt) + ",\"output_tokens\":1}}}"),
            named_sse("content_block_start",
                      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{"
                      "\"type\":\"text\",\"text\":\"\"}}"),
            named_sse("ping", "{\"type\": \"ping\"}")};
  }

  std::string delta(const chat_call&, std::string_view text) const override {
    return named_sse("content_block_delta",
                     "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_"
                     "delta\",\"text\":" +
                         json::quote(text) + "}}");
  }

  std::vector<std::string> tail(const chat_call&, const usage_counts& u) const override {
    return {named_sse("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"),
            named_sse("message_delta",
                      "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                      "\"stop_sequence\":null},\"usage\":{\"output_tokens\":" +
                          std::to_string(u.completion) + "}}"),
            named_sse("message_stop", "{\"type\":\"message_stop\"}")};
  }

  std::string error_body(int status, const chat_call& c) const override {
    const char* type;
    std::string message;
    switch (status) {
      case 400:
        type = "invalid_request_error";
        message = "prompt is too long: 210000 tokens > 200000 maximum";
        break;
      case 401:
        type = "authentication_error";
        message = "invalid x-api-key";
        break;
      case 403:
        type = "permission_error";
        message = "Your API key does not have permission to use the specified resource.";
        break;
      case 404:
        type = "not_found_error";
        message = "model: " + c.model;
        break;
      case 429:
        type = "rate_limit_error";
        message =
            "This request would exceed the rate limit for your organization of 50 requests per "
            "minute.";
        break;
      case 529:
        type = "overloaded_error";
        message = "Overloaded";
        break;
      default:
        type = "api_error";
        message = "Internal server error";
    }
    return std::string("{\"type\":\"error\",\"error\":{\"type\":\"") + type +
           "\",\"message\":" + json::quote(message) + "}}";
  }

  std::string bad_request_body(const std::string& message) const override {
    return "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":" +
           json::quote("askmock: " + message) + "}}";
  }

  std::string error_event() const override {
    return named_sse("error",
                     "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                     "\"Overloaded\"}}");
  }

  std::string nested() const override { return named_sse("content_block_delta", deep_json()); }

  std::string malformed() const override {
    return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
           "\"delta\":{\"type\":\"text_delta\",\"text\":\"oops\n\n";
  }
};

// -- Ollama -------------------------------------------------------------------------

class ollama_format : public wire_format {
 public:
  std::string_view name() const override { return "ollama"; }

  // Ollama has no keys.
  bool authorized(const request&, const std::string&) const override { return true; }

  chat_call parse(const request& req) const override {
    rapidjson::Document doc;
    json::parse(req.body, doc);
    json::object_reader body(doc, "");
    chat_call c;
    c.model = body.required_string("model");
    if (body.boolean("stream") == false)
      throw std::runtime_error("only streaming is mocked; leave \"stream\" true");
    c.turns = turns_of(body.array("messages"));
    return c;
  }

  std::string content_type() const override { return "application/x-ndjson"; }

  std::vector<std::string> head(const chat_call&, const usage_counts&) const override { return {}; }

  std::string delta(const chat_call& c, std::string_view text) const override {
    return "{\"model\":" + json::quote(c.model) +
           ",\"created_at\":\"2025-05-01T10:00:00.000000Z\",\"message\":{\"role\":\"assistant\","
           "\"content\":" +
           json::quote(text) + "},\"done\":false}\n";
  }

  std::vector<std::string> tail(const chat_call& c, const usage_counts& u) const override {
    return {"{\"model\":" + json::quote(c.model) +
            ",\"created_at\":\"2025-05-01T10:00:01.000000Z\",\"message\":{\"role\":\"assistant\","
            "\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":"
            "4883583458,\"load_duration\":1334875,\"prompt_eval_count\":" +
            std::to_string(u.prompt) + ",\"prompt_eval_duration\":342546000,\"eval_count\":" +
            std::to_string(u.completion) + ",\"eval_duration\":4535599000}\n"};
  }

  std::string error_body(int status, const chat_call& c) const override {
    std::string message;
    switch (status) {
      case 400:
        message = "the input length exceeds the context length";
        break;
      case 404:
        message = "model \"" + c.model + "\" not found, try pulling it first";
        break;
      case 503:
        message = "server busy, please try again.  maximum pending requests exceeded";
        break;
      default:
        message = "llama runner process has terminated: signal: killed";
    }
    return "{\"error\":" + json::quote(message) + "}";
  }

  std::string bad_request_body(const std::string& message) const override {
    return "{\"error\":" + json::quote("askmock: " + message) + "}";
  }

  std::string error_event() const override {
    return "{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n";
  }

  std::string nested() const override { return deep_json() + "\n"; }

  std::string malformed() const override {
    return "{\"model\":\"mock\",\"message\":{\"content\":\"oops\n";
  }
};

// -- Bedrock ------------------------------------------------------------------------

namespace aws = askd::providers::aws;

// ConverseStream: AWS's binary event stream, one JSON payload per message; requests are
// signed with SigV4, which askmock checks as AWS does (with its key as the secret).
class bedrock_format : public wire_format {
 public:
  std::string_view name() const override { return "bedrock"; }

  bool authorized(const request& req, const std::string& key) const override {
    // AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/bedrock/aws4_request,
    // SignedHeaders=content-type;host;x-amz-date, Signature=...
    auto auth = std::string(req.header("authorization"));
    auto field = [&](std::string_view name) {
      auto at = auth.find(name);
      if (at == std::string::npos) return std::string();
      at += name.size();
      return auth.substr(at, auth.find_first_of(", ", at) - at);
    };
    auto credential = field("Credential=");
    std::vector<std::string> scope;
    for (std::size_t from = 0;;) {
      auto slash = credential.find('/', from);
      scope.push_back(credential.substr(from, slash - from));
      if (slash == std::string::npos) break;
      from = slash + 1;
    }
    if (auth.rfind("AWS4-HMAC-SHA256 ", 0) != 0 || scope.size() != 5 || scope[3] != "bedrock")
      return false;
    aws::signing_input in;
    in.method = req.method;
    in.path = req.path;
    in.query = req.query;
    auto names = field("SignedHeaders=");
    // AWS requires these two among the signed headers.
    if (names.find("host") == std::string::npos || names.find("x-amz-date") == std::string::npos)
      return false;
    for (std::size_t from = 0;;) {
      auto semi = names.find(';', from);
      auto name = names.substr(from, semi - from);
      in.headers.emplace_back(name, std::string(req.header(name)));
      if (semi == std::string::npos) break;
      from = semi + 1;
    }
    in.payload = req.body;
    in.amz_date = std::string(req.header("x-amz-date"));
    if (in.amz_date.compare(0, 8, scope[1]) != 0) return false;
    in.region = scope[2];
    in.service = scope[3];
    in.access_key = scope[0];
    in.secret_key = key;
    return aws::authorization(in) == auth;
  }

  std::pair<int, std::string> unauthorized() const override {
    return {403,
            "{\"message\":\"The request signature we calculated does not match the signature "
            "you provided. Check your AWS Secret Access Key and signing method. Consult the "
            "service documentation for details.\"}"};
  }

  chat_call parse(const request& req) const override {
    chat_call c;
    auto p = std::string_view(req.path);
    auto at = p.find("/model/") + 7;
    c.model = askd::net::percent_decode(p.substr(at, p.rfind("/converse-stream") - at));
    rapidjson::Document doc;
    json::parse(req.body, doc);
    json::object_reader body(doc, "");
    if (body.has("system"))
      c.turns.push_back({"system", text_of_content(body.value()["system"], "system")});
    const auto* messages = body.array("messages");
    if (!messages || messages->Empty())
      throw std::runtime_error("messages: expected a non-empty array");
    for (const auto& m : messages->GetArray()) {
      json::object_reader mr(m, "messages[]");
      auto role = mr.required_string("role");
      if (!mr.has("content")) throw json::field_error("messages[].content", "an array", "nothing");
      c.turns.push_back({role, text_of_content(m["content"], "messages[].content")});
    }
    return c;
  }

  std::string content_type() const override { return "application/vnd.amazon.eventstream"; }

  std::vector<std::string> head(const chat_call&, const usage_counts&) const override {
    return {
        event("messageStart", R"({"p":"abcdefghijklmnopqrstuvwxyzABCDEF","role":"assistant"})")};
  }

  std::string delta(const chat_call&, std::string_view text) const override {
    return event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":)" +
                                          json::quote(text) + R"(},"p":"abcd"})");
  }

  std::vector<std::string> tail(const chat_call&, const usage_counts& u) const override {
    return {
        event("contentBlockStop", R"({"contentBlockIndex":0,"p":"abcdefghijklm"})"),
        event("messageStop",
              R"({"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH","stopReason":"end_turn"})"),
        event("metadata", R"({"metrics":{"latencyMs":120},"p":"abcdef","usage":{"inputTokens":)" +
                              std::to_string(u.prompt) + R"(,"outputTokens":)" +
                              std::to_string(u.completion) + R"(,"totalTokens":)" +
                              std::to_string(u.prompt + u.completion) + "}}")};
  }

  std::string error_body(int status, const chat_call&) const override {
    const char* message;
    switch (status) {
      case 400:
        message = "Input is too long for requested model.";
        break;
      case 403:
        message = "The security token included in the request is invalid.";
        break;
      case 404:
        message = "Could not resolve the foundation model from the provided model identifier.";
        break;
      case 429:
        message = "Too many requests, please wait before trying again.";
        break;
      case 503:
        message = "Bedrock is unable to process your request.";
        break;
      default:
        message =
            "The system encountered an unexpected error during processing. Try your "
            "request again.";
    }
    return "{\"message\":" + json::quote(message) + "}";
  }

  std::string bad_request_body(const std::string& message) const override {
    return "{\"message\":" + json::quote("askmock: " + message) + "}";
  }

  std::string error_event() const override {
    return aws::encode_event(
        {{":message-type", "exception"},
         {":exception-type", "modelStreamErrorException"},
         {":content-type", "application/json"}},
        R"({"message":"The model stream encountered an error.","originalStatusCode":500})");
  }

  std::string nested() const override { return event("contentBlockDelta", deep_json()); }

  // A whole frame whose message CRC is wrong.
  std::string malformed() const override {
    auto frame = event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"oops"}})");
    frame.back() = static_cast<char>(frame.back() ^ 0x5A);
    return frame;
  }

 private:
  static std::string event(const char* type, std::string_view payload) {
    return aws::encode_event(
        {{":event-type", type}, {":content-type", "application/json"}, {":message-type", "event"}},
        payload);
  }
};

bool ends_with(std::string_view s, std::string_view end) {
  return s.size() >= end.size() && s.substr(s.size() - end.size()) == end;
}

}  // namespace

std::vector<chat_turn> turns_of(const rapidjson::Value* messages) {
  if (!messages || !messages->IsArray() || messages->Empty())
    throw std::runtime_error("messages: expected a non-empty array");
  std::vector<chat_turn> turns;
  for (const auto& m : messages->GetArray()) {
    json::object_reader mr(m, "messages[]");
    turns.push_back({mr.string_or("role", ""), mr.string_or("content", "")});
  }
  return turns;
}

const wire_format* format_for(std::string_view path) {
  static const openai_format openai;
  static const azure_format azure;
  static const gemini_format gemini;
  static const anthropic_format anthropic;
  static const ollama_format ollama;
  static const bedrock_format bedrock;
  if (ends_with(path, "/chat/completions"))
    return path.find("/openai/deployments/") != std::string_view::npos
               ? static_cast<const wire_format*>(&azure)
               : &openai;
  if (path.find("/models/") != std::string_view::npos && ends_with(path, ":streamGenerateContent"))
    return &gemini;
  if (ends_with(path, "/messages")) return &anthropic;
  if (ends_with(path, "/api/chat")) return &ollama;
  if (path.find("/model/") != std::string_view::npos && ends_with(path, "/converse-stream"))
    return &bedrock;
  return nullptr;
}

}  // namespace askmock
