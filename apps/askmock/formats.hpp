// apps/askmock/formats.hpp — the wire formats askmock speaks: how a provider's chat
// request reads (model, turns), how its streamed answer is framed (the pieces before the
// first delta, each delta, the pieces after the last), and how it says an error (status
// bodies, an error inside the stream, what malformed bytes look like). The scripting,
// pacing and faults are the same for every format (mock_service.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "net/http_server.hpp"

namespace askmock {

struct chat_turn {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct chat_call {
  std::string model;
  std::vector<chat_turn> turns;
  bool include_usage = true;
  // OpenAI pads each chunk with random characters unless the request says
  // stream_options.include_obfuscation: false.
  bool obfuscate = false;
};

struct usage_counts {
  std::int64_t prompt = 0;
  std::int64_t completion = 0;
};

class wire_format {
 public:
  virtual ~wire_format() = default;
  virtual std::string_view name() const = 0;
  // Whether the request carries `key` where this provider expects it.
  virtual bool authorized(const askd::net::request& req, const std::string& key) const = 0;
  // The request as the provider reads it; throws std::exception with the reason.
  virtual chat_call parse(const askd::net::request& req) const = 0;
  virtual std::string content_type() const { return "text/event-stream; charset=utf-8"; }
  virtual std::vector<std::string> head(const chat_call& call, const usage_counts& u) const = 0;
  virtual std::string delta(const chat_call& call, std::string_view text) const = 0;
  virtual std::vector<std::string> tail(const chat_call& call, const usage_counts& u) const = 0;
  // The provider's error body for an HTTP status.
  virtual std::string error_body(int status, const chat_call& call) const = 0;
  // The status and body a request without the right key gets.
  virtual std::pair<int, std::string> unauthorized() const { return {401, error_body(401, {})}; }
  // A 400 for a request askmock cannot read, in the provider's shape.
  virtual std::string bad_request_body(const std::string& message) const = 0;
  // An error object inside the 200 stream, and bytes that break the framing.
  virtual std::string error_event() const = 0;
  virtual std::string malformed() const = 0;
  // A well-framed event whose JSON nests 150,000 levels deep (a hostile upstream).
  virtual std::string nested() const = 0;

 protected:
  static std::string deep_json() { return std::string(150000, '[') + std::string(150000, ']'); }
};

// OpenAI-style messages ([{"role":..,"content":..}], as OpenAI, Ollama and askd's own
// compat face write them) as turns; throws when `messages` is not a non-empty array.
std::vector<chat_turn> turns_of(const rapidjson::Value* messages);

// The format a request path is for, or nullptr: OpenAI (…/chat/completions, Azure's
// deployments too), Gemini (…/models/{m}:streamGenerateContent), Anthropic (…/messages),
// Ollama (…/api/chat), Bedrock (…/model/{id}/converse-stream).
const wire_format* format_for(std::string_view path);

}  // namespace askmock
