#include "core/ids.hpp"

#include <sys/random.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <stdexcept>

namespace askd::core {
std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t v = rng();
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  return to_hex(b, 8);
}

bool equal_in_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string_view node_of_stream(std::string_view id) {
  auto dot = id.find('.');
  return dot == std::string_view::npos ? std::string_view{} : id.substr(0, dot);
}

std::string new_stream_id(std::string_view node) {
  unsigned char b[16];
  std::size_t got = 0;
  while (got < sizeof b) {
    auto n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  if (node.empty()) return to_hex(b, sizeof b);
  return std::string(node) + "." + to_hex(b, sizeof b);
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace askd::core
