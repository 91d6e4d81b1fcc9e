// The OpenAI decoder reads a chunk from the parser's events, without a document, and a
// chunk shaped like the text-only one before it without the parser (chunk_shape). Here a
// DOM reading of each chunk alone (what the decoder did first) is the oracle: for any
// lines, read in turn by one decoder, each finds the same delta, finish reason and usage
// as the DOM, or fails with the same error class.
#include <algorithm>
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

reading by_decoder(askd::providers::stream_decoder& d, const std::string& json) {
  recorder c;
  reading r;
  if (auto e = d.feed("data: " + json + "\n\n", c)) {
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
  // Each line one chunk (a data line: a carriage return would split it too), up to 32.
  std::string text(reinterpret_cast<const char*>(data), size);
  for (auto& c : text)
    if (c == '\r') c = ' ';
  auto d = askd::providers::make_openai_decoder("openai");
  std::size_t at = 0;
  for (int n = 0; n < 32 && at <= text.size(); ++n) {
    auto end = std::min(text.find('\n', at), text.size());
    std::string json = text.substr(at, end - at);
    at = end + 1;
    if (json == "[DONE]") continue;  // the end marker, not a chunk
    auto want = by_document(json);
    if (!(want == by_decoder(*d, json))) __builtin_trap();
    if (want.error) break;  // a stream ends at its first error
  }
  return 0;
}
