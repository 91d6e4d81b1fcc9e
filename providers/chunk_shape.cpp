#include "providers/chunk_shape.hpp"

#include <algorithm>

namespace askd::providers {
namespace {

// What may stand inside a JSON string as itself: no quote, no escape, no control
// character (a reader refuses those raw; NUL also ends an in-place read).
bool plain(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
}

}  // namespace

void chunk_shape::learn(std::string_view raw, std::size_t at, std::size_t n) {
  if (misses_ >= give_up_after) return;
  // The decoded text is the raw bytes only when nothing in them was escaped; then the
  // string's quotes stand right around them.
  if (at == 0 || at + n >= raw.size() || raw[at - 1] != '"' || raw[at + n] != '"' ||
      !plain(raw.substr(at, n)))
    return;
  // Sized once: kept for the stream's life, it would otherwise carry append's slack.
  bytes_.clear();
  bytes_.reserve(raw.size() - n);
  bytes_.append(raw.substr(0, at)).append(raw.substr(at + n));
  before_ = static_cast<std::uint32_t>(at);
  learned_ = true;
}

std::optional<std::string_view> chunk_shape::text_of(std::string_view raw) {
  if (!learned_ || misses_ >= give_up_after) return std::nullopt;
  std::string_view before(bytes_.data(), before_);
  std::string_view after(bytes_.data() + before_, bytes_.size() - before_);
  if (raw.size() < bytes_.size() || raw.substr(0, before.size()) != before ||
      raw.substr(raw.size() - after.size()) != after) {
    ++misses_;
    return std::nullopt;
  }
  misses_ = 0;
  // An escaped text (a line break, a quote) is the text's own affair, not the shape's:
  // that chunk is read whole and the shape kept.
  auto text = raw.substr(before.size(), raw.size() - bytes_.size());
  if (!plain(text)) return std::nullopt;
  return text;
}

}  // namespace askd::providers
