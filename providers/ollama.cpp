#include "providers/ollama.hpp"

#include "core/json.hpp"

namespace askd::providers {
namespace {

constexpr std::string_view open_tag = "<think>";
constexpr std::string_view close_tag = "</think>";

// How many bytes at the end of `s` could be the start of `tag`.
std::size_t partial_tag(std::string_view s, std::string_view tag) {
  for (std::size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

class ollama_decoder : public decoder_base {
 public:
  ollama_decoder(std::string provider_id, bool strip_think)
      : decoder_base(std::move(provider_id)), strip_(strip_think) {}

  std::optional<core::error> feed(std::string_view bytes, decode_events& out) override {
    if (done_) return std::nullopt;
    line_.append(bytes);
    std::size_t from = 0;
    for (auto nl = line_.find('\n'); nl != std::string::npos; nl = line_.find('\n', from)) {
      auto line = std::string_view(line_).substr(from, nl - from);
      from = nl + 1;
      if (auto err = take(line, out)) return err;
      if (done_) break;
    }
    line_.erase(0, from);
    if (line_.size() > max_line_bytes)
      return bad("a line larger than " + std::to_string(max_line_bytes) + " bytes");
    return std::nullopt;
  }

  std::optional<core::error> finish(decode_events& out) override {
    if (!done_ && !line_.empty()) {  // a last line without its newline
      std::string last;
      last.swap(line_);
      if (auto err = take(last, out)) return err;
    }
    if (done_) return std::nullopt;
    return cut_short("\"done\": true");
  }

 private:
  static constexpr std::size_t max_line_bytes = 8 << 20;
  std::optional<core::error> take(std::string_view line, decode_events& out) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return std::nullopt;
    core::json::small_document parsed;
    bool parsed_ok = parsed.parse(line);
    auto& doc = parsed.doc();
    if (!parsed_ok || !doc.IsObject())
      return bad("a line that is not a JSON object: " + utf8_prefix(line, 120));
    if (const auto* err = member(doc, "error"))
      return in_stream(utf8_prefix(text_of(err), 500), core::error_code::upstream);
    if (const auto* msg = member(doc, "message")) emit(text_of(member(*msg, "content")), out);
    if (const auto* done = member(doc, "done"); done && done->IsTrue()) {
      if (strip_) {
        std::string rest;
        filter_.finish(rest);
        if (!rest.empty()) out.on_delta(rest);
      }
      auto reason = text_of(member(doc, "done_reason"));
      out.on_finish_reason(reason.empty() ? "stop" : reason);
      core::token_usage u;
      u.prompt_tokens = int_of(member(doc, "prompt_eval_count")).value_or(0);
      u.completion_tokens = int_of(member(doc, "eval_count")).value_or(0);
      out.on_usage(u);
      done_ = true;
    }
    return std::nullopt;
  }

  void emit(std::string_view text, decode_events& out) {
    if (text.empty()) return;
    if (!strip_) return out.on_delta(text);
    kept_.clear();
    filter_.feed(text, kept_);
    if (!kept_.empty()) out.on_delta(kept_);
  }

  bool strip_;
  std::string line_;
  think_filter filter_;
  std::string kept_;
};

}  // namespace

void think_filter::feed(std::string_view piece, std::string& out) {
  if (state_ == state::answer) {
    out.append(piece);
    return;
  }
  held_.append(piece);
  std::string_view s(held_);
  constexpr std::string_view blank = " \t\r\n";
  if (state_ == state::leading) {
    auto lead = s.find_first_not_of(blank);
    if (lead == std::string_view::npos) return;  // only blank so far: wait
    auto rest = s.substr(lead);
    if (rest.size() < open_tag.size() && open_tag.substr(0, rest.size()) == rest) return;
    if (rest.substr(0, open_tag.size()) != open_tag) {  // no block first: all of it is answer
      state_ = state::answer;
      out.append(held_);
      held_.clear();
      return;
    }
    s = rest.substr(open_tag.size());
    state_ = state::thinking;
  }
  if (state_ == state::thinking) {
    auto at = s.find(close_tag);
    if (at == std::string_view::npos) {  // thought, dropped; keep what may start </think>
      held_ = std::string(s.substr(s.size() - partial_tag(s, close_tag)));
      return;
    }
    s.remove_prefix(at + close_tag.size());
    state_ = state::after;
  }
  // After the block: the blank lines before the answer go too.
  auto lead = s.find_first_not_of(blank);
  if (lead != std::string_view::npos) {
    state_ = state::answer;
    out.append(s.substr(lead));
  }
  held_.clear();
}

void think_filter::finish(std::string& out) {
  if (state_ == state::leading) out.append(held_);  // a start that never became a block
  held_.clear();
}

ollama_provider::ollama_provider(core::provider_settings settings, core::upstream_settings upstream)
    : provider(std::move(settings), upstream) {
  for (const auto& m : settings_.models) {
    auto frag = params_fragment(m.params_json, {{"options", "options"}, {"think", "think"}});
    options_.emplace(m.id, frag.empty() ? frag : "," + frag);
  }
  // Ollama itself takes no key; one in conf is for a proxy in front of it.
  set_headers("Authorization: Bearer ", {});
}

upstream_request ollama_provider::build(const generation_request& request) const {
  auto r = request_to(settings_.base_url + "/api/chat");
  auto& b = r.body;
  b.reserve(body_bytes(request));
  b += "{\"model\":";
  b += core::json::quote(request.model);
  b += ",\"stream\":true";
  if (auto it = options_.find(request.model); it != options_.end()) b += it->second;
  b += ",\"messages\":[";
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    const auto& m = request.messages[i];
    if (i) b += ',';
    b += "{\"role\":";
    b += core::json::quote(m.role);
    b += ",\"content\":\"";
    core::json::append_escaped(b, m.content);
    b += "\"}";
  }
  b += "]}";
  return r;
}

std::unique_ptr<stream_decoder> ollama_provider::decoder() const {
  return make_ollama_decoder(settings_.id, settings_.strip_think);
}

core::error ollama_provider::classify(long status, std::string_view body,
                                      std::string_view retry_after) const {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  std::string message;
  if (parsed) message = utf8_prefix(text_of(member(doc, "error")), 500);
  return classify_kind(status, status, std::move(message), "", body, retry_after);
}

std::unique_ptr<stream_decoder> make_ollama_decoder(std::string provider_id, bool strip_think) {
  return std::make_unique<ollama_decoder>(std::move(provider_id), strip_think);
}

}  // namespace askd::providers
