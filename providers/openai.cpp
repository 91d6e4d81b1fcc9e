#include "providers/openai.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "core/json.hpp"
#include "providers/chunk_shape.hpp"
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

// What one chat.completion.chunk says, read from RapidJSON's events without building a
// document (a delta's parse was ~6k of its ~15k instructions as a DOM). It reads what the
// DOM reading did: the first "choices", its element 0 (an object), that choice's first
// "delta" (an object) and its first "content" (a non-empty string), the choice's first
// "finish_reason" (a string), the first "usage" (an object) and its token counts; any
// "error" member. Everything else is skipped as it streams past.
class chunk_reader {
 public:
  // `in_place`: the text the reader reads in place, where content_at points into.
  explicit chunk_reader(const char* in_place) : base_(in_place) {}

  bool not_object = false;      // the text is JSON, but not an object
  bool has_error = false;       // a top-level "error" member
  const char* wrong = nullptr;  // what is malformed, for decoder_base::bad
  std::string content;          // the delta's text (short ones stay in the string itself)
  std::optional<std::size_t> content_at;  // where that text stood in the chunk
  std::optional<std::string> finish;
  std::optional<core::token_usage> usage;

  bool Null() { return scalar(kind::other); }
  bool Bool(bool) { return scalar(kind::other); }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(std::int64_t i) { return integer(i); }
  bool Uint64(std::uint64_t u) {
    return u <= static_cast<std::uint64_t>(INT64_MAX) ? integer(static_cast<std::int64_t>(u))
                                                      : scalar(kind::other);
  }
  bool Double(double) { return scalar(kind::other); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(kind::other); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    auto slot = take_slot();
    if (slot == slot::content && n > 0) {
      content.assign(s, n);
      content_at = static_cast<std::size_t>(s - base_);
    }
    if (slot == slot::finish) finish.emplace(s, n);
    return check(slot, kind::other);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    pending_ = key_slot(std::string_view(s, n));
    return true;
  }
  bool StartObject() { return open(kind::object); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(kind::array); }
  bool EndArray(rapidjson::SizeType) { return close(); }

 private:
  enum class kind : std::uint8_t { object, array, other };
  // The value about to come: what it is to the chunk.
  enum class slot : std::uint8_t {
    none,
    root,
    error,
    choices,
    choice,
    delta,
    content,
    finish,
    usage,
    prompt,
    completion
  };
  // What an open array or object is to the chunk.
  enum class role : std::uint8_t { skipped, top, choices, choice, delta, usage };

  slot take_slot() {
    if (depth_ == 0) return slot::root;
    if (current() == role::choices) return elements_++ == 0 ? slot::choice : slot::none;
    return std::exchange(pending_, slot::none);
  }

  // The first of each member counts, as FindMember finds it.
  slot first(bool& seen, slot s) { return std::exchange(seen, true) ? slot::none : s; }
  slot key_slot(std::string_view key) {
    switch (current()) {
      case role::top:
        if (key == "error") return slot::error;
        if (key == "choices") return first(seen_choices_, slot::choices);
        if (key == "usage") return first(seen_usage_, slot::usage);
        return slot::none;
      case role::choice:
        if (key == "delta") return first(seen_delta_, slot::delta);
        if (key == "finish_reason") return first(seen_finish_, slot::finish);
        return slot::none;
      case role::delta:
        return key == "content" ? first(seen_content_, slot::content) : slot::none;
      case role::usage:
        if (key == "prompt_tokens") return first(seen_prompt_, slot::prompt);
        if (key == "completion_tokens") return first(seen_completion_, slot::completion);
        return slot::none;
      default:
        return slot::none;
    }
  }

  // What a value of kind `k` in `s` means, whatever its content.
  bool check(slot s, kind k) {
    if (s == slot::root && k != kind::object) not_object = true;
    if (s == slot::error) has_error = true;
    if (s == slot::choices && k != kind::array && !wrong) wrong = "\"choices\" is not an array";
    if (s == slot::choice && k != kind::object && !wrong) wrong = "a choice that is not an object";
    if (s == slot::usage && k == kind::object) usage.emplace();
    return true;
  }
  bool scalar(kind k) { return check(take_slot(), k); }
  bool integer(std::int64_t v) {
    auto s = take_slot();
    if (s == slot::prompt && usage) usage->prompt_tokens = v;
    if (s == slot::completion && usage) usage->completion_tokens = v;
    return check(s, kind::other);
  }
  bool open(kind k) {
    auto s = take_slot();
    check(s, k);
    role r = role::skipped;
    if (k == kind::object) {
      if (s == slot::root) r = role::top;
      if (s == slot::choice) r = role::choice;
      if (s == slot::delta) r = role::delta;
      if (s == slot::usage) r = role::usage;
    } else if (s == slot::choices) {
      r = role::choices;
    }
    if (++depth_ < max_roles) roles_[depth_] = r;
    pending_ = slot::none;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  // Deeper than the chunk's own shape nothing is read (read_events bounds the depth).
  static constexpr int max_roles = 8;
  role current() const { return depth_ < max_roles ? roles_[depth_] : role::skipped; }

  const char* base_;
  int depth_ = 0;
  role roles_[max_roles] = {};
  slot pending_ = slot::none;
  std::uint32_t elements_ = 0;  // of the "choices" array
  bool seen_choices_ = false, seen_usage_ = false, seen_delta_ = false, seen_finish_ = false,
       seen_content_ = false, seen_prompt_ = false, seen_completion_ = false;
};

class openai_decoder : public sse_decoder {
 public:
  using sse_decoder::sse_decoder;

  std::optional<core::error> finish(decode_events&) override {
    if (done_ || saw_finish_) return std::nullopt;
    return cut_short("[DONE]");
  }

 private:
  std::optional<core::error> take(const sse_view& ev, decode_events& out) override {
    if (ev.data == "[DONE]") {
      done_ = true;
      return std::nullopt;
    }
    if (auto text = shape_.match(ev.data)) {
      if (!text->empty()) out.on_delta(*text);
      return std::nullopt;
    }
    // Parsed in place in a copy (the event's text stays whole for an error's words); one
    // buffer per curl thread, kept between chunks.
    thread_local std::string scratch;
    scratch.assign(ev.data);
    chunk_reader chunk(scratch.data());
    bool parsed = bool(core::json::read_events_in_place(scratch, chunk));
    if (scratch.capacity() > 65536) std::string().swap(scratch);  // after a rare large one
    if (!parsed || chunk.not_object)
      return bad("a data line that is not a JSON object: " + utf8_prefix(ev.data, 120));
    // An error inside a 200 stream (OpenAI, OpenRouter do this mid-answer).
    if (chunk.has_error) return in_stream(error_message(ev.data), core::error_code::upstream);
    if (chunk.wrong) return bad(chunk.wrong);
    // A chunk that says only its text is the shape of the ones to come.
    if (chunk.content_at && !chunk.finish && !chunk.usage) shape_.learn(ev.data, *chunk.content_at);
    if (!chunk.content.empty()) out.on_delta(chunk.content);
    if (chunk.finish) {
      saw_finish_ = true;
      out.on_finish_reason(*chunk.finish);
    }
    if (chunk.usage) out.on_usage(*chunk.usage);
    return std::nullopt;
  }

  bool saw_finish_ = false;
  chunk_shape shape_;
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
  b.reserve(body_bytes(request));
  b += "{\"model\":";
  b += core::json::quote(request.model);
  b += ",\"stream\":true";
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
