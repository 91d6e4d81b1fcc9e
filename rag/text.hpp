// rag/text.hpp — the small text helpers rag/ shares: whitespace trimming and ASCII lower
// case (identifiers, headings, host names; not a locale's case).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace askd::rag {

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
