#include "providers/provider.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

#include "core/json.hpp"
#include "providers/anthropic.hpp"
#include "providers/azure.hpp"
#include "providers/bedrock.hpp"
#include "providers/google.hpp"
#include "providers/local.hpp"
#include "providers/ollama.hpp"
#include "providers/openai.hpp"

namespace askd::providers {

provider::provider(core::provider_settings settings, core::upstream_settings upstream)
    : settings_(std::move(settings)), upstream_(upstream) {}

std::optional<core::error> provider::missing_key() const {
  if (settings_.base_url.empty() && !offline())
    return core::error{
        core::error_code::provider_unavailable,
        "provider " + settings_.id + " has no endpoint: set " +
            (settings_.base_url_env.empty() ? std::string("client.base_url in conf")
                                            : settings_.base_url_env + " in askd's environment"),
        false};
  if (settings_.api_key_env.empty() || !settings_.api_key.empty()) return std::nullopt;
  return core::error{core::error_code::unauthorized,
                     "provider " + settings_.id + " has no API key: set " + settings_.api_key_env +
                         " in askd's environment",
                     false};
}

core::error provider::classify_status(long status, const std::string& message,
                                      std::string_view retry_after, bool context_length) const {
  auto said = " (HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message) + ")";
  core::error e;
  if (status == 401 || status == 403) {
    e = core::error{core::error_code::unauthorized,
                    "provider " + id() + " refused the API key" + said +
                        (settings_.api_key_env.empty() ? "" : "; check " + settings_.api_key_env),
                    false};
  } else if (status == 429) {
    // Before the wording: a rate limit on tokens ("Too many tokens, please wait") is
    // still a rate limit.
    e = core::error::make(core::error_code::rate_limited,
                          "provider " + id() + " is rate limiting" + said);
  } else if (context_length) {
    e = core::error{core::error_code::context_length,
                    "the prompt is too long for provider " + id() + said, false};
  } else if (status == 408) {
    e = core::error::make(core::error_code::timeout, "provider " + id() + " timed out" + said);
  } else if (status >= 500) {
    e = core::error::make(core::error_code::upstream, "provider " + id() + " failed" + said);
  } else {
    // 400, 404, 422...: the provider rejected the request as made; retrying cannot help.
    e = core::error{core::error_code::upstream, "provider " + id() + " rejected the request" + said,
                    false};
  }
  e.upstream_status = static_cast<int>(status);
  e.retry_after_ms = parse_retry_after(retry_after);
  return e;
}

std::optional<core::error> sse_decoder::feed(std::string_view bytes, decode_events& out) {
  if (done_) return std::nullopt;  // anything after the end marker is ignored
  std::optional<core::error> err;
  // Events after an error or the end marker are parsed but not taken.
  bool framed = parser_.feed(bytes, [&](const sse_view& ev) {
    if (!err && !done_) err = take(ev, out);
  });
  if (err) return err;
  if (!framed && !done_) return bad("an event larger than the parser's bound");
  return std::nullopt;
}

core::error decoder_base::bad(const std::string& what) const {
  return core::error{core::error_code::bad_response,
                     "provider " + provider_ + " sent a malformed stream: " + what, false};
}

core::error decoder_base::cut_short(std::string_view marker) const {
  return core::error::make(
      core::error_code::upstream,
      "provider " + provider_ + "'s stream ended before its end (no " + std::string(marker) + ")");
}

core::error decoder_base::in_stream(const std::string& message, core::error_code code) const {
  // A rate limit first, as classify_status does: "Too many tokens, please wait" is one.
  if (code != core::error_code::rate_limited && says_context_length(message))
    return core::error{core::error_code::context_length,
                       "the prompt is too long for provider " + provider_ + ": " + message, false};
  return core::error::make(code,
                           "provider " + provider_ + " reported an error mid-stream: " + message);
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string_view text_of(const rapidjson::Value* v) {
  if (!v || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

std::optional<std::int64_t> int_of(const rapidjson::Value* v) {
  if (!v || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

std::string params_fragment(const std::string& params_json,
                            std::initializer_list<std::pair<const char*, const char*>> keys) {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(params_json, doc);
  std::string frag;
  if (!parsed || !doc.IsObject()) return frag;
  for (const auto& [conf_key, wire_key] : keys) {
    const auto* v = member(doc, conf_key);
    if (!v) continue;
    if (!frag.empty()) frag += ',';
    frag += core::json::quote(wire_key);
    frag += ':';
    frag += core::json::write(*v);
  }
  return frag;
}

core::error provider::classify_kind(long status, long as_status, std::string message,
                                    std::string_view kind, std::string_view body,
                                    std::string_view retry_after) const {
  if (message.empty()) message = utf8_prefix(body, 300);
  auto said = kind.empty() ? message : message + " (" + std::string(kind) + ")";
  auto err = classify_status(as_status, said, retry_after, says_context_length(message));
  err.upstream_status = static_cast<int>(status);
  return err;
}

std::vector<std::string> json_headers(std::string_view key_header, const std::string& key,
                                      std::initializer_list<std::string_view> extra,
                                      const std::map<std::string, std::string>& conf_headers) {
  std::vector<std::string> h{"Content-Type: application/json"};
  for (auto e : extra) h.emplace_back(e);
  if (!key_header.empty() && !key.empty()) h.push_back(std::string(key_header) + key);
  for (const auto& [name, value] : conf_headers) h.push_back(name + ": " + value);
  return h;
}

void provider::set_headers(std::string_view key_header,
                           std::initializer_list<std::string_view> extra) {
  headers_ = std::make_shared<const header_list>(
      json_headers(key_header, settings_.api_key, extra, settings_.headers));
}

upstream_request provider::request_to(std::string url) const {
  upstream_request r;
  r.url = std::move(url);
  r.headers = headers_;
  r.connect_timeout_ms = upstream_.connect_timeout_ms;
  return r;
}

void append_turns(std::string& body, const generation_request& request,
                  std::string_view assistant_role, std::string_view text_before,
                  std::string_view text_after) {
  bool first = true;
  for (const auto& m : request.messages) {
    if (m.role == "system") continue;
    if (!first) body += ',';
    first = false;
    body += "{\"role\":\"";
    body += m.role == "assistant" ? assistant_role : "user";
    body += "\",";
    body += text_before;
    core::json::append_escaped(body, m.content);
    body += text_after;
    body += '}';
  }
}

std::string stop_reason_words(std::string_view r) {
  if (r == "end_turn" || r == "stop_sequence") return "stop";
  if (r == "max_tokens") return "length";
  if (r == "refusal" || r == "guardrail_intervened" || r == "content_filtered")
    return "content_filter";
  if (r == "tool_use") return "tool_calls";
  return std::string(r);
}

std::size_t body_bytes(const generation_request& request) {
  std::size_t n = 512 + request.model.size();
  for (const auto& m : request.messages) n += m.content.size() + m.content.size() / 16 + 64;
  return n;
}

std::string system_prompt(const generation_request& request) {
  std::string system;
  for (const auto& m : request.messages)
    if (m.role == "system") system += (system.empty() ? "" : "\n\n") + m.content;
  return system;
}

std::string uri_encode(std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::int64_t parse_retry_after(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) return -1;
    return std::stoll(std::string(value)) * 1000;
  }
  std::tm tm{};
  std::string s(value);
  if (!strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) return -1;
  auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(when - std::chrono::system_clock::now())
          .count();
  return std::max<std::int64_t>(ms, 0);
}

bool says_context_length(std::string_view message) {
  std::string m(message);
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  static constexpr std::string_view wordings[] = {
      "context_length_exceeded", "maximum context length", "context length",
      "context window",          "too many tokens",        "prompt is too long",
      "input is too long",       "reduce the length",      "exceeds the maximum number of tokens"};
  for (auto w : wordings)
    if (m.find(w) != std::string::npos) return true;
  return false;
}

const char* const client_classes =
    "OpenAIClient, OpenRouterClient, DashscopeClient, AzureAIClient, GoogleGenAIClient, "
    "AnthropicClient, OllamaClient, BedrockClient, LocalClient";

provider_registry::provider_registry(const core::config& cfg) {
  for (const auto& p : cfg.generator.providers) {
    std::shared_ptr<const provider> made;
    const auto& c = p.client_class;
    if (c == "OpenAIClient" || c == "OpenRouterClient" || c == "DashscopeClient")
      made = std::make_shared<openai_provider>(p, cfg.upstream);
    else if (c == "AzureAIClient")
      made = std::make_shared<azure_provider>(p, cfg.upstream);
    else if (c == "GoogleGenAIClient")
      made = std::make_shared<google_provider>(p, cfg.upstream);
    else if (c == "AnthropicClient")
      made = std::make_shared<anthropic_provider>(p, cfg.upstream);
    else if (c == "OllamaClient")
      made = std::make_shared<ollama_provider>(p, cfg.upstream);
    else if (c == "BedrockClient")
      made = std::make_shared<bedrock_provider>(p, cfg.upstream);
    else if (c == "LocalClient")
      made = std::make_shared<local_provider>(p, cfg.upstream);
    else
      throw core::config_error(cfg.generator.source + ": providers." + p.id +
                               ".client_class: expected one of " + client_classes + ", got \"" + c +
                               "\"");
    providers_.emplace(p.id, std::move(made));
  }
}

std::shared_ptr<const provider> provider_registry::find(const std::string& id) const {
  auto it = providers_.find(id);
  return it == providers_.end() ? nullptr : it->second;
}

}  // namespace askd::providers
