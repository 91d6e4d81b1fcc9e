// rag/text.hpp — the small text helpers rag/ shares: lines, whitespace trimming and
// ASCII lower case (identifiers, headings, host names; not a locale's case).
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace askd::rag {

// The lines of `text`, without their '\n'; "a\n" is "a" and "" (a line per '\n', plus
// the last).
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    auto end = text.find('\n');
    out.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace askd::rag
