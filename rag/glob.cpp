#include "rag/glob.hpp"

#include <algorithm>

namespace askd::rag {
namespace {

constexpr std::size_t npos = std::string_view::npos;

// One past the ']' that closes the class opening at p[at] == '[', or npos when none does
// (then the '[' is a literal). A ']' right after "[", "[!" or "[^" is in the class; `\`
// escapes the next character.
//
// Scanning never backtracks, so once a '[' is found unclosed every later '[' met while
// tokenising the same text is unclosed too (the scans run in step): callers remember
// the first one and do not scan again, which keeps a pattern of many '[' linear.
std::size_t class_end(std::string_view p, std::size_t at) {
  std::size_t i = at + 1;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) ++i;
  for (const std::size_t first = i; i < p.size(); ++i) {
    if (p[i] == '\\')
      ++i;
    else if (p[i] == ']' && i != first)
      return i + 1;
  }
  return npos;
}

// Whether the class `cls` ("[...]", as class_end delimits it) holds `c`.
bool class_has(std::string_view cls, unsigned char c) {
  std::size_t i = 1;
  const std::size_t end = cls.size() - 1;  // the closing ']'
  const bool negate = cls[i] == '!' || cls[i] == '^';
  if (negate) ++i;
  bool matched = false;
  while (i < end) {
    auto lo = static_cast<unsigned char>(cls[i] == '\\' ? cls[++i] : cls[i]);
    ++i;
    auto hi = lo;
    if (i + 1 < end && cls[i] == '-') {  // a range; '-' first or last is a literal
      ++i;
      hi = static_cast<unsigned char>(cls[i] == '\\' ? cls[++i] : cls[i]);
      ++i;
    }
    matched = matched || (c >= lo && c <= hi);
  }
  return matched != negate;
}

// One pattern segment against one text segment (no '/' in either, outside a class): the
// classic two-pointer wildcard match. Every other token takes exactly one character, so
// on a mismatch the last '*' takes one more and nothing else is retried: at most
// |p| × |t| steps.
bool segment_match(std::string_view p, std::string_view t) {
  std::size_t pi = 0, ti = 0;
  std::size_t star = npos, star_t = 0;  // just after the last '*', and where its match began
  std::size_t unclosed = npos;          // a '[' from here on is a literal (see class_end)
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      while (pi < p.size() && p[pi] == '*') ++pi;
      star = pi;
      star_t = ti;
      continue;
    }
    if (pi < p.size()) {
      std::size_t len = 1;
      bool hit = false;
      const char c = p[pi];
      if (c == '?') {
        hit = true;
      } else if (c == '\\' && pi + 1 < p.size()) {
        len = 2;
        hit = p[pi + 1] == t[ti];
      } else if (c == '[' && pi < unclosed) {
        auto end = class_end(p, pi);
        if (end == npos) {
          unclosed = pi;
          hit = c == t[ti];
        } else {
          len = end - pi;
          hit = class_has(p.substr(pi, len), static_cast<unsigned char>(t[ti]));
        }
      } else {
        hit = c == t[ti];
      }
      if (hit) {
        pi += len;
        ++ti;
        continue;
      }
    }
    if (star == npos) return false;
    pi = star;
    ti = ++star_t;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

struct segment {
  std::size_t begin, end;  // [begin, end) in the pattern
  std::size_t next;        // where the following segment begins; size() + 1 after the last
};

// The pattern's segment that begins at `at`: up to the first '/' outside a class ("\/"
// separates too: in git it is a literal '/'). `unclosed` carries the first unclosed '['
// found so far, from call to call.
segment pattern_segment(std::string_view p, std::size_t at, std::size_t& unclosed) {
  for (std::size_t i = at; i < p.size(); ++i) {
    if (p[i] == '/') return {at, i, i + 1};
    if (p[i] == '\\' && i + 1 < p.size()) {
      if (p[i + 1] == '/') return {at, i, i + 2};
      ++i;
    } else if (p[i] == '[' && i < unclosed) {
      auto end = class_end(p, i);
      if (end == npos)
        unclosed = i;
      else
        i = end - 1;
    }
  }
  return {at, p.size(), p.size() + 1};
}

// A segment of two or more asterisks and nothing else: git's "**".
bool is_globstar(std::string_view s) {
  return s.size() >= 2 && s.find_first_not_of('*') == npos;
}

}  // namespace

// The same two-pointer idea one level up: pattern and text are sequences of
// '/'-separated segments, a "**" segment is the '*' (zero or more text segments), and
// every other pattern segment takes exactly one text segment (segment_match). Each pair
// of segments is compared at most once, so the whole match costs at most about
// |pattern| × |text| character steps.
bool glob_match(std::string_view p, std::string_view t) {
  const std::size_t p_done = p.size() + 1, t_done = t.size() + 1;  // no segment left
  std::size_t unclosed = npos;
  std::size_t pi = 0, ti = 0;
  std::size_t star = npos, star_t = 0;  // just after the last "**", and where its match began
  while (ti < t_done) {
    if (pi < p_done) {
      auto seg = pattern_segment(p, pi, unclosed);
      auto ps = p.substr(seg.begin, seg.end - seg.begin);
      if (is_globstar(ps)) {
        // A trailing "/**" takes everything left, but something must be left: "x/**"
        // matches what is inside x, not x itself. (A lone "**" matches anything.)
        if (seg.next == p_done && pi > 0) return true;
        star = pi = seg.next;
        star_t = ti;
        continue;
      }
      auto t_end = std::min(t.find('/', ti), t.size());
      if (segment_match(ps, t.substr(ti, t_end - ti))) {
        pi = seg.next;
        ti = t_end + 1;
        continue;
      }
    }
    if (star == npos) return false;
    pi = star;
    auto slash = t.find('/', star_t);
    ti = star_t = slash == npos ? t_done : slash + 1;
  }
  // The text is used up: what is left of the pattern must be "**" that may match nothing.
  while (pi < p_done) {
    auto seg = pattern_segment(p, pi, unclosed);
    if (!is_globstar(p.substr(seg.begin, seg.end - seg.begin)) || (seg.next == p_done && pi > 0))
      return false;
    pi = seg.next;
  }
  return true;
}

}  // namespace askd::rag
