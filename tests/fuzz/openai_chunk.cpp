// The OpenAI decoder reads a chunk from the parser's events, without a document. Here a
// DOM reading of the same chunk (what the decoder did before) is the oracle: for any text
// both find the same delta, finish reason and usage, or fail with the same error class.
#include <cstdint>
#include <optional>
#include <string>

#include "core/json.hpp"
#include "providers/openai.hpp"
#include "tests/support/collected_events.hpp"

namespace {

struct reading {
  std::string text, finish;
  bool finish_seen = false, usage_seen = false;
  std::int64_t prompt = 0, completion = 0;
  std::optional<askd::core::error_code> error;
  bool operator==(const reading&) const = default;
};

reading by_document(const std::string& json) {
  using askd::core::error_code;
  reading r;
  rapidjson::Document doc;
  if (!askd::core::json::try_parse(json, doc) || !doc.IsObject()) {
    r.error = error_code::bad_response;
    return r;
  }
  if (doc.HasMember("error")) {
    r.error = error_code::upstream;  // or context_length, by the message: see below
    return r;
  }
  if (auto c = doc.FindMember("choices"); c != doc.MemberEnd()) {
    if (!c->value.IsArray()) return r.error = error_code::bad_response, r;
    if (!c->value.Empty()) {
      const auto& choice = c->value[0];
      if (!choice.IsObject()) return r.error = error_code::bad_response, r;
      if (auto d = choice.FindMember("delta"); d != choice.MemberEnd() && d->value.IsObject()) {
        auto t = d->value.FindMember("content");
        if (t != d->value.MemberEnd() && t->value.IsString())
          r.text.assign(t->value.GetString(), t->value.GetStringLength());
      }
      if (auto f = choice.FindMember("finish_reason");
          f != choice.MemberEnd() && f->value.IsString()) {
        r.finish_seen = true;
        r.finish.assign(f->value.GetString(), f->value.GetStringLength());
      }
    }
  }
  if (auto u = doc.FindMember("usage"); u != doc.MemberEnd() && u->value.IsObject()) {
    r.usage_seen = true;
    auto p = u->value.FindMember("prompt_tokens");
    if (p != u->value.MemberEnd() && p->value.IsInt64()) r.prompt = p->value.GetInt64();
    auto q = u->value.FindMember("completion_tokens");
    if (q != u->value.MemberEnd() && q->value.IsInt64()) r.completion = q->value.GetInt64();
  }
  return r;
}

struct recorder : askd::test::collected {
  bool finish_seen = false;
  void on_finish_reason(std::string_view f) override {
    finish_seen = true;
    collected::on_finish_reason(f);
  }
};

reading by_decoder(const std::string& json) {
  auto d = askd::providers::make_openai_decoder("openai");
  recorder c;
  reading r;
  if (auto e = d->feed("data: " + json + "\n\n", c)) {
    // A mid-stream error whose words say the prompt was too long is one class further.
    r.error = e->code == askd::core::error_code::context_length ? askd::core::error_code::upstream
                                                                : e->code;
    return r;
  }
  r.text = c.text;
  r.finish = c.finish;
  r.finish_seen = c.finish_seen;
  r.usage_seen = c.usage_seen;
  r.prompt = c.usage.prompt_tokens;
  r.completion = c.usage.completion_tokens;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One data line: line breaks would split it into several.
  std::string json(reinterpret_cast<const char*>(data), size);
  for (auto& c : json)
    if (c == '\n' || c == '\r') c = ' ';
  if (json == "[DONE]") return 0;  // the end marker, not a chunk
  if (!(by_document(json) == by_decoder(json))) __builtin_trap();
  return 0;
}
