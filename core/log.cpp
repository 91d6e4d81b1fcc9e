#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/ids.hpp"
#include "core/text.hpp"

namespace askd::core {
namespace {

std::atomic<log_level> g_level{log_level::info};
std::mutex g_sink_mutex;
std::function<void(std::string_view)> g_sink;

std::string_view level_name(log_level l) {
  switch (l) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "info";
}

void append_value(std::string& out, std::string_view v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      plain = false;
      break;
    }
  if (plain) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

log_level parse_log_level(std::string_view s) {
  if (s == "debug") return log_level::debug;
  if (s == "warn") return log_level::warn;
  if (s == "error") return log_level::error;
  return log_level::info;
}

void set_log_level(log_level level) {
  g_level = level;
}
bool log_enabled(log_level level) {
  return level >= g_level.load(std::memory_order_relaxed);
}

void set_log_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard<std::mutex> lock(g_sink_mutex);
  g_sink = std::move(sink);
}

log_line::log_line(log_level level, std::string_view msg) : on_(log_enabled(level)) {
  if (!on_) return;
  line_.reserve(160);
  line_ += "ts=";
  line_ += iso8601(std::chrono::system_clock::now());
  line_ += " level=";
  line_ += level_name(level);
  line_ += " msg=";
  append_value(line_, msg);
}

log_line::~log_line() {
  if (!on_) return;
  line_ += '\n';
  std::lock_guard<std::mutex> lock(g_sink_mutex);
  if (g_sink) {
    g_sink(line_);
    return;
  }
  // One write(2) per line: whole lines even when many threads log at once.
  auto rc = ::write(STDERR_FILENO, line_.data(), line_.size());
  (void)rc;
}

log_line& log_line::kv(std::string_view key, std::string_view value) {
  if (!on_) return *this;
  line_ += ' ';
  line_ += key;
  line_ += '=';
  // A value from a client or an upstream can be any size: a line stays readable.
  constexpr std::size_t max_value = 2048;
  append_value(line_, value.size() > max_value ? std::string_view(clip(value, max_value)) : value);
  return *this;
}

log_line& log_line::kv(std::string_view key, std::int64_t value) {
  return kv(key, std::string_view(std::to_string(value)));
}
log_line& log_line::kv(std::string_view key, std::uint64_t value) {
  return kv(key, std::string_view(std::to_string(value)));
}
log_line& log_line::kv(std::string_view key, double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return kv(key, std::string_view(buf));
}
log_line& log_line::kv(std::string_view key, bool value) {
  return kv(key, std::string_view(value ? "true" : "false"));
}

}  // namespace askd::core
