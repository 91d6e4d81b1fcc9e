#include "core/tokens.hpp"

namespace askd::core {

std::int64_t count_tokens(std::string_view text) {
  std::int64_t n = 0;
  std::size_t i = 0;
  auto alpha = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
  };
  auto digit = [](unsigned char c) { return c >= '0' && c <= '9'; };
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    std::size_t start = i;
    if (alpha(c)) {
      while (i < text.size() && alpha(static_cast<unsigned char>(text[i]))) ++i;
      auto len = static_cast<std::int64_t>(i - start);
      n += len <= 6 ? 1 : (len + 3) / 4;
    } else if (digit(c)) {
      while (i < text.size() && digit(static_cast<unsigned char>(text[i]))) ++i;
      n += static_cast<std::int64_t>(i - start + 2) / 3;
    } else {
      ++i;
      ++n;
    }
  }
  return n;
}

std::int64_t count_tokens(const std::vector<chat_message>& messages) {
  std::int64_t n = 3;
  for (const auto& m : messages) n += 4 + count_tokens(m.content);
  return n;
}

}  // namespace askd::core
