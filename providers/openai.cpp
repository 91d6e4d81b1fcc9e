#include "providers/openai.hpp"

#include <rapidjson/document.h>

#include "core/json.hpp"
#include "providers/sse_parser.hpp"

namespace askd::providers {
namespace {

// The provider's own words from an error body: {"error":{"message":...}} or the text.
std::string error_message(std::string_view body, std::string* code = nullptr) {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  if (parsed && doc.IsObject()) {
    auto it = doc.FindMember("error");
    if (it != doc.MemberEnd()) {
      const auto& e = it->value;
      if (e.IsString()) return utf8_prefix(e.GetString(), 500);
      if (e.IsObject()) {
        if (code) {
          auto c = e.FindMember("code");
          if (c != e.MemberEnd() && c->value.IsString()) *code = c->value.GetString();
        }
        auto m = e.FindMember("message");
        if (m != e.MemberEnd() && m->value.IsString())
          return utf8_prefix(m->value.GetString(), 500);
      }
    }
    auto m = doc.FindMember("message");
    if (m != doc.MemberEnd() && m->value.IsString()) return utf8_prefix(m->value.GetString(), 500);
  }
  return utf8_prefix(body, 300);
}

class openai_decoder : public sse_decoder {
 public:
  using sse_decoder::sse_decoder;

  std::optional<core::error> finish(decode_events&) override {
    if (done_ || saw_finish_) return std::nullopt;
    return cut_short("[DONE]");
  }

 private:
  std::optional<core::error> take(const sse_event& ev, decode_events& out) override {
    if (ev.data == "[DONE]") {
      done_ = true;
      return std::nullopt;
    }
    core::json::small_document parsed;
    bool parsed_ok = parsed.parse(ev.data);
    auto& doc = parsed.doc();
    if (!parsed_ok || !doc.IsObject())
      return bad("a data line that is not a JSON object: " + utf8_prefix(ev.data, 120));
    if (auto e = doc.FindMember("error"); e != doc.MemberEnd()) {
      // An error inside a 200 stream (OpenAI, OpenRouter do this mid-answer).
      return in_stream(error_message(ev.data), core::error_code::upstream);
    }
    if (auto c = doc.FindMember("choices"); c != doc.MemberEnd()) {
      if (!c->value.IsArray()) return bad("\"choices\" is not an array");
      if (!c->value.Empty()) {
        const auto& choice = c->value[0];
        if (!choice.IsObject()) return bad("a choice that is not an object");
        if (auto d = choice.FindMember("delta"); d != choice.MemberEnd() && d->value.IsObject()) {
          auto content = d->value.FindMember("content");
          if (content != d->value.MemberEnd() && content->value.IsString() &&
              content->value.GetStringLength() > 0)
            out.on_delta(
                std::string_view(content->value.GetString(), content->value.GetStringLength()));
        }
        if (auto f = choice.FindMember("finish_reason");
            f != choice.MemberEnd() && f->value.IsString()) {
          saw_finish_ = true;
          out.on_finish_reason(f->value.GetString());
        }
      }
    }
    if (auto u = doc.FindMember("usage"); u != doc.MemberEnd() && u->value.IsObject()) {
      core::token_usage usage;
      auto p = u->value.FindMember("prompt_tokens");
      if (p != u->value.MemberEnd() && p->value.IsInt64())
        usage.prompt_tokens = p->value.GetInt64();
      auto q = u->value.FindMember("completion_tokens");
      if (q != u->value.MemberEnd() && q->value.IsInt64())
        usage.completion_tokens = q->value.GetInt64();
      out.on_usage(usage);
    }
    return std::nullopt;
  }

  bool saw_finish_ = false;
};

}  // namespace

openai_provider::openai_provider(core::provider_settings settings, core::upstream_settings upstream,
                                 std::string_view key_header)
    : provider(std::move(settings), upstream) {
  // The parameters OpenAI-compatible servers accept; others in conf (top_k, num_ctx)
  // belong to other wire formats and would be refused here.
  for (const auto& m : settings_.models) {
    auto frag = params_fragment(m.params_json, {{"temperature", "temperature"},
                                                {"top_p", "top_p"},
                                                {"max_tokens", "max_tokens"},
                                                {"max_completion_tokens", "max_completion_tokens"},
                                                {"presence_penalty", "presence_penalty"},
                                                {"frequency_penalty", "frequency_penalty"},
                                                {"seed", "seed"},
                                                {"stop", "stop"},
                                                {"reasoning_effort", "reasoning_effort"}});
    params_.emplace(m.id, frag.empty() ? frag : "," + frag);
  }
  set_headers(key_header, {"Accept: text/event-stream"});
}

upstream_request openai_provider::build(const generation_request& request) const {
  auto r = request_to(settings_.base_url + "/chat/completions");
  auto& b = r.body;
  b.reserve(256 + request.messages.size() * 64);
  b = "{\"model\":" + core::json::quote(request.model) + ",\"stream\":true";
  if (settings_.include_usage) b += ",\"stream_options\":{\"include_usage\":true}";
  if (auto it = params_.find(request.model); it != params_.end()) b += it->second;
  b += ",\"messages\":[";
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    const auto& m = request.messages[i];
    if (i) b += ',';
    b += "{\"role\":\"";
    b += m.role;
    b += "\",\"content\":\"";
    core::json::append_escaped(b, m.content);
    b += "\"}";
  }
  b += "]}";
  return r;
}

std::unique_ptr<stream_decoder> openai_provider::decoder() const {
  return make_openai_decoder(settings_.id);
}

core::error openai_provider::classify(long status, std::string_view body,
                                      std::string_view retry_after) const {
  std::string code;
  auto message = error_message(body, &code);
  auto e = classify_status(status, message, retry_after,
                           code == "context_length_exceeded" || says_context_length(message));
  // A spent quota is a 429 that waiting does not fix.
  if (code == "insufficient_quota") e.retryable = false;
  return e;
}

std::unique_ptr<stream_decoder> make_openai_decoder(std::string provider_id) {
  return std::make_unique<openai_decoder>(std::move(provider_id));
}

}  // namespace askd::providers
