// core/text.hpp — cutting a client's or an upstream's text for an error or a log line,
// never inside a UTF-8 character.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace askd::core {

// The largest n <= max at which `s` can be cut without splitting a UTF-8 character.
inline std::size_t utf8_cut(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// The first `max` bytes of `s` at a character boundary, with "..." when cut.
inline std::string utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, utf8_cut(s, max))) + "...";
}

// A client's text quoted in an error or a log line: a 1 MB repo_url is not echoed whole.
inline std::string clip(std::string_view s, std::size_t max = 200) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, utf8_cut(s, max))) + "...(" + std::to_string(s.size()) +
         " bytes)";
}

// ASCII case-insensitive equality (header names, media types, host names).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y)) return false;
  }
  return true;
}

// Whether `s` has any byte of `set` (a few bytes). libstdc++'s find_first_of makes a
// memchr call over the set for every byte of `s`; this compares in place.
inline bool contains_any(std::string_view s, std::string_view set) {
  for (char c : s)
    for (char x : set)
      if (c == x) return true;
  return false;
}

// `s` without spaces and tabs at either end.
inline std::string_view trim_ascii(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace askd::core
