#include "providers/chunk_shape.hpp"

#include <utility>

#include "core/json.hpp"

namespace askd::providers {
namespace {

constexpr auto npos = std::string_view::npos;

// The string whose contents begin at s[from]: where its closing quote is (npos when it is
// still open at the text's end), and whether its contents stand as themselves.
struct string_token {
  std::size_t end = npos;
  bool plain = true;
};
string_token string_at(std::string_view s, std::size_t from) {
  string_token t;
  for (auto i = from; i < s.size();) {
    i += core::json::unescaped_run(s.substr(i));
    if (i >= s.size()) break;
    if (s[i] == '"') {
      t.end = i;
      return t;
    }
    t.plain = false;
    i += s[i] == '\\' ? 2 : 1;  // an escape's byte, or a control byte a reader refused
  }
  return t;
}

// A string followed by a colon is a member's name, which says what its value is to the
// decoder: names stay in the shape's bytes.
bool names_a_member(std::string_view s, std::size_t after_quote) {
  for (auto i = after_quote; i < s.size(); ++i)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return s[i] == ':';
  return false;
}

}  // namespace

void chunk_shape::learn(std::string_view raw, std::size_t at) {
  if (std::exchange(escaped_, false) || misses_ >= give_up_after || raw.size() > max_bytes) return;
  // Every string value standing unescaped becomes a hole (the text, and up to
  // max_holes - 1 others, first come): ids, names of models, padding. The rest of the
  // bytes, names of members and all, is the shape.
  std::size_t begins[max_holes], ends[max_holes], cut = 0;
  std::uint8_t holes = 0, text_hole = max_holes;
  for (auto q = raw.find('"'); q != npos;) {
    auto token = string_at(raw, q + 1);
    if (token.end == npos) return;  // an open string: not JSON a reader accepted
    bool is_text = q + 1 == at;
    if (is_text || (holes + (text_hole == max_holes ? 1 : 0) < max_holes && token.plain &&
                    !names_a_member(raw, token.end + 1))) {
      if (is_text) text_hole = holes;
      begins[holes] = q + 1;
      ends[holes++] = token.end;
      cut += token.end - (q + 1);
    }
    q = raw.find('"', token.end + 1);
  }
  if (text_hole == max_holes) return;  // the text was not where the reader said
  std::string bytes;
  bytes.reserve(raw.size() - cut);  // kept for the stream's life: no slack
  std::size_t kept = 0;             // raw[0, kept) is in bytes or a hole
  for (std::uint8_t k = 0; k < holes; ++k) {
    bytes.append(raw.substr(kept, begins[k] - kept));
    holes_at_[k] = static_cast<std::uint16_t>(bytes.size());
    kept = ends[k];
  }
  bytes_ = std::move(bytes.append(raw.substr(kept)));
  holes_ = holes;
  text_hole_ = text_hole;
}

std::optional<std::string_view> chunk_shape::match(std::string_view raw) {
  escaped_ = false;
  if (holes_ == 0 || misses_ >= give_up_after) return std::nullopt;
  std::string_view shape(bytes_), text;
  std::size_t pos = 0, from = 0;
  for (std::uint8_t k = 0; k < holes_; ++k) {
    auto fixed = shape.substr(from, holes_at_[k] - from);
    if (raw.substr(pos, fixed.size()) != fixed) return ++misses_, std::nullopt;
    pos += fixed.size();
    from = holes_at_[k];
    // Each hole ends at the first byte a string cannot hold as itself. A quote closes it,
    // and the shape's next bytes begin with one; an escape or a control byte is the
    // string's own affair (a line break in the text), not the shape's: read whole, and
    // no miss.
    auto run = core::json::unescaped_run(raw.substr(pos));
    if (pos + run == raw.size()) return ++misses_, std::nullopt;
    if (raw[pos + run] != '"') return escaped_ = true, std::nullopt;
    if (k == text_hole_) text = raw.substr(pos, run);
    pos += run;
  }
  if (raw.substr(pos) != shape.substr(from)) return ++misses_, std::nullopt;
  misses_ = 0;
  return text;
}

}  // namespace askd::providers
