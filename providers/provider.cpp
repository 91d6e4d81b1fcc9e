#include "providers/provider.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

#include "providers/local.hpp"
#include "providers/openai.hpp"

namespace askd::providers {

provider::provider(core::provider_settings settings, core::upstream_settings upstream)
    : settings_(std::move(settings)), upstream_(upstream) {}

std::optional<core::error> provider::missing_key() const {
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
  } else if (context_length) {
    e = core::error{core::error_code::context_length,
                    "the prompt is too long for provider " + id() + said, false};
  } else if (status == 429) {
    e = core::error::make(core::error_code::rate_limited,
                          "provider " + id() + " is rate limiting" + said);
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
      "input is too long",       "reduce the length"};
  for (auto w : wordings)
    if (m.find(w) != std::string::npos) return true;
  return false;
}

std::string utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

provider_registry::provider_registry(const core::config& cfg) {
  for (const auto& p : cfg.generator.providers) {
    std::shared_ptr<const provider> made;
    if (p.client_class == "OpenAIClient" || p.client_class == "OpenRouterClient" ||
        p.client_class == "DashscopeClient") {
      made = std::make_shared<openai_provider>(p, cfg.upstream);
    } else if (p.client_class == "LocalClient") {
      made = std::make_shared<local_provider>(p, cfg.upstream);
    } else {
      throw core::config_error(cfg.generator.source + ": providers." + p.id +
                               ".client_class: expected one of OpenAIClient, OpenRouterClient, "
                               "DashscopeClient, LocalClient, got \"" +
                               p.client_class + "\"");
    }
    providers_.emplace(p.id, std::move(made));
  }
}

std::shared_ptr<const provider> provider_registry::find(const std::string& id) const {
  auto it = providers_.find(id);
  return it == providers_.end() ? nullptr : it->second;
}

}  // namespace askd::providers
