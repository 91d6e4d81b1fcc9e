#include "providers/anthropic.hpp"

#include "core/json.hpp"

namespace askd::providers {
namespace {

// The Messages API requires max_tokens; this is what a model without one in conf gets.
constexpr int default_max_tokens = 8192;

// {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}
struct anthropic_error {
  std::string type;
  std::string message;
};

anthropic_error read_error(const rapidjson::Value& doc) {
  anthropic_error e;
  if (const auto* err = member(doc, "error")) {
    e.type = std::string(text_of(member(*err, "type")));
    e.message = utf8_prefix(text_of(member(*err, "message")), 500);
  }
  return e;
}

class anthropic_decoder : public sse_decoder {
 public:
  using sse_decoder::sse_decoder;

  std::optional<core::error> finish(decode_events&) override {
    if (done_) return std::nullopt;
    return cut_short("message_stop");
  }

 private:
  std::optional<core::error> take(const sse_view& ev, decode_events& out) override {
    if (ev.event == "ping") return std::nullopt;
    core::json::small_document parsed;
    bool parsed_ok = parsed.parse(ev.data);
    auto& doc = parsed.doc();
    if (!parsed_ok || !doc.IsObject())
      return bad("a data line that is not a JSON object: " + utf8_prefix(ev.data, 120));
    auto type = text_of(member(doc, "type"));
    if (type == "content_block_delta") {
      const auto* delta = member(doc, "delta");
      // text_delta is the answer; thinking and tool-input deltas are not.
      if (delta && text_of(member(*delta, "type")) == "text_delta") {
        auto text = text_of(member(*delta, "text"));
        if (!text.empty()) out.on_delta(text);
      }
    } else if (type == "message_start") {
      if (const auto* msg = member(doc, "message"))
        if (const auto* usage = member(*msg, "usage"))
          usage_.prompt_tokens = int_of(member(*usage, "input_tokens")).value_or(0);
    } else if (type == "message_delta") {
      if (const auto* delta = member(doc, "delta")) {
        auto reason = text_of(member(*delta, "stop_reason"));
        if (!reason.empty()) out.on_finish_reason(stop_reason_words(reason));
      }
      if (const auto* usage = member(doc, "usage")) {
        usage_.completion_tokens = int_of(member(*usage, "output_tokens")).value_or(0);
        out.on_usage(usage_);
      }
    } else if (type == "message_stop") {
      done_ = true;
    } else if (type == "error" || ev.event == "error") {
      auto e = read_error(doc);
      auto code = e.type == "rate_limit_error"        ? core::error_code::rate_limited
                  : e.type == "invalid_request_error" ? core::error_code::bad_response
                                                      : core::error_code::upstream;
      // bad_response is not retried (core::retryable_by_default).
      return in_stream(e.message + (e.type.empty() ? "" : " (" + e.type + ")"), code);
    }
    return std::nullopt;
  }

  core::token_usage usage_;
};

}  // namespace

anthropic_provider::anthropic_provider(core::provider_settings settings,
                                       core::upstream_settings upstream)
    : provider(std::move(settings), upstream) {
  for (const auto& m : settings_.models) {
    auto frag = params_fragment(m.params_json, {{"max_tokens", "max_tokens"},
                                                {"temperature", "temperature"},
                                                {"top_p", "top_p"},
                                                {"top_k", "top_k"},
                                                {"stop", "stop_sequences"}});
    if (frag.find("\"max_tokens\"") == std::string::npos)
      frag =
          "\"max_tokens\":" + std::to_string(default_max_tokens) + (frag.empty() ? "" : ",") + frag;
    params_.emplace(m.id, "," + frag);
  }
  set_headers("x-api-key: ", {"Accept: text/event-stream", "anthropic-version: 2023-06-01"});
}

upstream_request anthropic_provider::build(const generation_request& request) const {
  auto r = request_to(settings_.base_url + "/messages");
  auto& b = r.body;
  auto system = system_prompt(request);
  b.reserve(body_bytes(request));
  b += "{\"model\":";
  b += core::json::quote(request.model);
  b += ",\"stream\":true";
  if (auto it = params_.find(request.model); it != params_.end())
    b += it->second;
  else
    b += ",\"max_tokens\":" + std::to_string(default_max_tokens);
  if (!system.empty()) {
    b += ",\"system\":\"";
    core::json::append_escaped(b, system);
    b += '"';
  }
  b += ",\"messages\":[";
  append_turns(b, request, "assistant", "\"content\":\"", "\"");
  b += "]}";
  return r;
}

std::unique_ptr<stream_decoder> anthropic_provider::decoder() const {
  return make_anthropic_decoder(settings_.id);
}

core::error anthropic_provider::classify(long status, std::string_view body,
                                         std::string_view retry_after) const {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  anthropic_error e;
  if (parsed) e = read_error(doc);
  auto as_status = e.type == "authentication_error" ? 401L
                   : e.type == "permission_error"   ? 403L
                   : e.type == "rate_limit_error"   ? 429L
                                                    : status;
  return classify_kind(status, as_status, std::move(e.message), e.type, body, retry_after);
}

std::unique_ptr<stream_decoder> make_anthropic_decoder(std::string provider_id) {
  return std::make_unique<anthropic_decoder>(std::move(provider_id));
}

}  // namespace askd::providers
