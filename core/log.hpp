// core/log.hpp — one line per fact, logfmt (`key=value`), written whole with one
// write so lines from many threads never interleave. Never pass a secret here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace askd::core {

enum class log_level : std::uint8_t { debug, info, warn, error };

log_level parse_log_level(std::string_view s);  // unknown → info
void set_log_level(log_level level);
bool log_enabled(log_level level);
// Replaces where lines go (stderr by default); tests capture them. nullptr restores stderr.
void set_log_sink(std::function<void(std::string_view line)> sink);

// Builds one line; writes it when destroyed:
//   log_line(log_level::info, "request").kv("id", id).kv("ttft_ms", 12);
class log_line {
 public:
  log_line(log_level level, std::string_view msg);
  ~log_line();
  log_line(const log_line&) = delete;
  log_line& operator=(const log_line&) = delete;

  log_line& kv(std::string_view key, std::string_view value);
  log_line& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }
  log_line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  log_line& kv(std::string_view key, std::int64_t value);
  log_line& kv(std::string_view key, int value) {
    return kv(key, static_cast<std::int64_t>(value));
  }
  log_line& kv(std::string_view key, std::uint64_t value);
  log_line& kv(std::string_view key, double value);
  log_line& kv(std::string_view key, bool value);

 private:
  bool on_;
  std::string line_;
};

inline log_line log_debug(std::string_view msg) {
  return log_line(log_level::debug, msg);
}
inline log_line log_info(std::string_view msg) {
  return log_line(log_level::info, msg);
}
inline log_line log_warn(std::string_view msg) {
  return log_line(log_level::warn, msg);
}
inline log_line log_error(std::string_view msg) {
  return log_line(log_level::error, msg);
}

}  // namespace askd::core
