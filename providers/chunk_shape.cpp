#include "providers/chunk_shape.hpp"

#include <utility>

#include "core/json.hpp"

namespace askd::providers {
namespace {

constexpr auto npos = std::string_view::npos;

// The closing quote of the string whose contents begin at `from`; npos when it is still
// open at the text's end.
std::size_t string_end(std::string_view s, std::size_t from) {
  for (auto i = from; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '"')
      return i;
  }
  return npos;
}

// A string followed by a colon is a member's name, which says what its value is to the
// decoder; only a value's contents may vary.
bool names_a_member(std::string_view s, std::size_t after_quote) {
  auto i = s.find_first_not_of(" \t\r\n", after_quote);
  return i != npos && s[i] == ':';
}

// Where `b` holds the one string value in which it differs from `a`, as [begin, end) of
// its contents in b. Both are JSON text from a point outside any string (both may end
// inside one, the text's). nullopt when they differ otherwise: outside strings, in a
// member's name or in two strings. (Any value of b could be a hole without changing what
// the decoder reads: this picks the one that varies.)
std::optional<std::pair<std::size_t, std::size_t>> only_differing_value(std::string_view a,
                                                                        std::string_view b) {
  std::optional<std::pair<std::size_t, std::size_t>> found;
  std::size_t pa = 0, pb = 0;
  for (;;) {
    auto qa = a.find('"', pa), qb = b.find('"', pb);
    if ((qa == npos) != (qb == npos) || a.substr(pa, qa - pa) != b.substr(pb, qb - pb))
      return std::nullopt;
    if (qa == npos) return found;
    auto ea = string_end(a, qa + 1), eb = string_end(b, qb + 1);
    if (ea == npos || eb == npos) return ea == eb ? found : std::nullopt;
    auto va = a.substr(qa + 1, ea - qa - 1), vb = b.substr(qb + 1, eb - qb - 1);
    if (va != vb) {
      if (found || names_a_member(b, eb + 1)) return std::nullopt;
      found.emplace(qb + 1, eb);
    }
    pa = ea + 1;
    pb = eb + 1;
  }
}

}  // namespace

void chunk_shape::learn(std::string_view raw, std::size_t at, std::size_t n) {
  if (misses_ >= give_up_after) return;
  if (at == 0 || at + n >= raw.size() || raw[at - 1] != '"' || raw[at + n] != '"' ||
      core::json::unescaped_run(raw.substr(at, n)) != n || raw.size() - n > max_bytes)
    return;
  auto before = raw.substr(0, at), after = raw.substr(at + n);
  // The other string that varies: between this chunk and the one-hole shape before it,
  // in the bytes before the text or in those after it (each beginning outside a string).
  std::optional<std::pair<std::size_t, std::size_t>> other;
  if (holes_ == 1) {
    std::string_view had(bytes_);
    auto had_before = had.substr(0, holes_at_[0]), had_after = had.substr(holes_at_[0]);
    if (had_before == before && had_after != after) {
      if (auto v = only_differing_value(had_after.substr(1), after.substr(1)))
        other.emplace(v->first + at + n + 1, v->second + at + n + 1);
    } else if (had_before != before && had_after == after) {
      other = only_differing_value(had_before, before);
    }
  }
  bytes_.clear();
  bytes_.reserve(raw.size() - n);  // kept for the stream's life: no append slack
  if (!other) {
    bytes_.append(before).append(after);
    holes_at_[0] = static_cast<std::uint16_t>(at);
    holes_ = 1;
    text_hole_ = 0;
    return;
  }
  auto [v_begin, v_end] = *other;
  text_hole_ = at < v_begin ? 0 : 1;
  auto first = text_hole_ == 0 ? std::pair{at, at + n} : std::pair{v_begin, v_end};
  auto second = text_hole_ == 0 ? std::pair{v_begin, v_end} : std::pair{at, at + n};
  bytes_.append(raw.substr(0, first.first))
      .append(raw.substr(first.second, second.first - first.second))
      .append(raw.substr(second.second));
  holes_at_[0] = static_cast<std::uint16_t>(first.first);
  holes_at_[1] = static_cast<std::uint16_t>(second.first - (first.second - first.first));
  holes_ = 2;
}

std::optional<std::string_view> chunk_shape::match(std::string_view raw) {
  if (holes_ == 0 || misses_ >= give_up_after) return std::nullopt;
  std::string_view shape(bytes_);
  std::string_view hole[2];
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
    if (raw[pos + run] != '"') return std::nullopt;
    hole[k] = raw.substr(pos, run);
    pos += run;
  }
  if (raw.substr(pos) != shape.substr(from)) return ++misses_, std::nullopt;
  misses_ = 0;
  return hole[text_hole_];
}

}  // namespace askd::providers
