#include "providers/google.hpp"

#include <algorithm>
#include <cctype>

#include "core/json.hpp"

namespace askd::providers {
namespace {

// Gemini's error body: {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED",
// "details":[{"reason":"API_KEY_INVALID",...}]}}: the message, the status word, and
// whether any detail names the key as the problem.
struct google_error {
  std::string message;
  std::string status;
  bool bad_key = false;
};

google_error read_error(const rapidjson::Value& doc) {
  google_error e;
  const auto* err = member(doc, "error");
  if (!err) return e;
  e.message = utf8_prefix(text_of(member(*err, "message")), 500);
  e.status = std::string(text_of(member(*err, "status")));
  if (const auto* details = member(*err, "details"); details && details->IsArray())
    for (const auto& d : details->GetArray())
      if (text_of(member(d, "reason")) == "API_KEY_INVALID") e.bad_key = true;
  if (e.message.find("API key not valid") != std::string::npos) e.bad_key = true;
  return e;
}

// Gemini's finish reasons in the words the other providers use.
std::string finish_reason(std::string_view r) {
  if (r == "STOP") return "stop";
  if (r == "MAX_TOKENS") return "length";
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY")
    return "content_filter";
  std::string s(r);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

class google_decoder : public sse_decoder {
 public:
  using sse_decoder::sse_decoder;

  std::optional<core::error> finish(decode_events&) override {
    if (done_) return std::nullopt;
    return cut_short("finishReason");
  }

 private:
  std::optional<core::error> take(const sse_view& ev, decode_events& out) override {
    core::json::small_document parsed;
    bool parsed_ok = parsed.parse(ev.data);
    auto& doc = parsed.doc();
    if (!parsed_ok || !doc.IsObject())
      return bad("a data line that is not a JSON object: " + utf8_prefix(ev.data, 120));
    if (member(doc, "error")) {
      // As the HTTP statuses map: exhausted is a rate limit, unavailable/internal/deadline
      // are worth another try, the rest (invalid argument, permission) are not.
      auto e = read_error(doc);
      auto said = e.message + (e.status.empty() ? "" : " (" + e.status + ")");
      if (e.status == "RESOURCE_EXHAUSTED") return in_stream(said, core::error_code::rate_limited);
      if (e.status.empty() || e.status == "UNAVAILABLE" || e.status == "INTERNAL" ||
          e.status == "DEADLINE_EXCEEDED")
        return in_stream(said, core::error_code::upstream);
      return in_stream(said, core::error_code::bad_response);  // not retried
    }
    if (const auto* usage = member(doc, "usageMetadata")) {
      core::token_usage u;
      u.prompt_tokens = int_of(member(*usage, "promptTokenCount")).value_or(0);
      u.completion_tokens = int_of(member(*usage, "candidatesTokenCount")).value_or(0) +
                            int_of(member(*usage, "thoughtsTokenCount")).value_or(0);
      out.on_usage(u);
    }
    const auto* candidates = member(doc, "candidates");
    if (!candidates || !candidates->IsArray() || candidates->Empty()) {
      // No candidate at all: the prompt itself was blocked.
      if (const auto* feedback = member(doc, "promptFeedback")) {
        auto reason = text_of(member(*feedback, "blockReason"));
        if (!reason.empty())
          return core::error{
              core::error_code::upstream,
              "provider " + provider_ + " blocked the prompt (" + std::string(reason) + ")", false};
      }
      if (candidates && !candidates->IsArray()) return bad("\"candidates\" is not an array");
      return std::nullopt;
    }
    const auto& c = (*candidates)[0];
    if (const auto* content = member(c, "content")) {
      if (const auto* parts = member(*content, "parts"); parts && parts->IsArray()) {
        for (const auto& part : parts->GetArray()) {
          // A thinking model's thought summaries are not the answer.
          if (const auto* thought = member(part, "thought"); thought && thought->IsTrue()) continue;
          auto text = text_of(member(part, "text"));
          if (!text.empty()) out.on_delta(text);
        }
      }
    }
    if (auto reason = text_of(member(c, "finishReason")); !reason.empty()) {
      out.on_finish_reason(finish_reason(reason));
      done_ = true;
    }
    return std::nullopt;
  }
};

}  // namespace

google_provider::google_provider(core::provider_settings settings, core::upstream_settings upstream)
    : provider(std::move(settings), upstream) {
  for (const auto& m : settings_.models) {
    auto frag = params_fragment(m.params_json, {{"temperature", "temperature"},
                                                {"top_p", "topP"},
                                                {"top_k", "topK"},
                                                {"max_tokens", "maxOutputTokens"},
                                                {"max_output_tokens", "maxOutputTokens"},
                                                {"stop", "stopSequences"},
                                                {"seed", "seed"}});
    config_.emplace(m.id, frag.empty() ? frag : ",\"generationConfig\":{" + frag + "}");
  }
  set_headers("x-goog-api-key: ", {"Accept: text/event-stream"});
}

upstream_request google_provider::build(const generation_request& request) const {
  auto r = request_to(settings_.base_url + "/models/" + uri_encode(request.model) +
                      ":streamGenerateContent?alt=sse");
  auto& b = r.body;
  auto system = system_prompt(request);
  b.reserve(body_bytes(request));
  b = "{\"contents\":[";
  append_turns(b, request, "model", "\"parts\":[{\"text\":\"", "\"}]");
  b += ']';
  if (!system.empty()) {
    b += ",\"systemInstruction\":{\"parts\":[{\"text\":\"";
    core::json::append_escaped(b, system);
    b += "\"}]}";
  }
  if (auto it = config_.find(request.model); it != config_.end()) b += it->second;
  b += '}';
  return r;
}

std::unique_ptr<stream_decoder> google_provider::decoder() const {
  return make_google_decoder(settings_.id);
}

core::error google_provider::classify(long status, std::string_view body,
                                      std::string_view retry_after) const {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  google_error e;
  if (parsed) e = read_error(doc);
  // Gemini answers a bad key with 400 INVALID_ARGUMENT; it is still the key.
  auto as_status = e.bad_key || e.status == "UNAUTHENTICATED" || e.status == "PERMISSION_DENIED"
                       ? (status == 403 ? 403L : 401L)
                   : e.status == "RESOURCE_EXHAUSTED" ? 429L
                   : e.status == "DEADLINE_EXCEEDED"  ? 408L
                                                      : status;
  return classify_kind(status, as_status, std::move(e.message), e.status, body, retry_after);
}

std::unique_ptr<stream_decoder> make_google_decoder(std::string provider_id) {
  return std::make_unique<google_decoder>(std::move(provider_id));
}

}  // namespace askd::providers
