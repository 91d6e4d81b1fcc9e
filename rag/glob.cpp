#include "rag/glob.hpp"

namespace askd::rag {
namespace {

// Matches a bracket class at p[0] == '['; sets `len` to the class's length in the pattern.
bool class_match(std::string_view p, char c, std::size_t& len) {
  std::size_t i = 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  for (; i < p.size() && (p[i] != ']' || first); ++i, first = false) {
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      if (c >= p[i] && c <= p[i + 2]) matched = true;
      i += 2;
    } else if (p[i] == c) {
      matched = true;
    }
  }
  if (i >= p.size()) {  // no closing bracket: '[' is a literal
    len = 1;
    return c == '[';
  }
  len = i + 1;
  return matched != negate;
}

bool match(std::string_view p, std::string_view t) {
  while (!p.empty()) {
    if (p.size() >= 2 && p[0] == '*' && p[1] == '*') {
      // "**/" matches zero or more whole directories; a trailing "**" matches the rest.
      std::string_view rest = p.substr(2);
      bool dir_form = !rest.empty() && rest[0] == '/';
      if (dir_form) rest.remove_prefix(1);
      if (rest.empty()) return true;
      for (std::size_t i = 0; i <= t.size(); ++i) {
        if (dir_form && i > 0 && t[i - 1] != '/') continue;
        if (match(rest, t.substr(i))) return true;
      }
      return false;
    }
    if (p[0] == '*') {
      std::string_view rest = p.substr(1);
      for (std::size_t i = 0; i <= t.size(); ++i) {
        if (match(rest, t.substr(i))) return true;
        if (i < t.size() && t[i] == '/') return false;
      }
      return false;
    }
    if (t.empty()) return false;
    if (p[0] == '?') {
      if (t[0] == '/') return false;
      p.remove_prefix(1);
    } else if (p[0] == '[') {
      std::size_t len = 0;
      if (t[0] == '/' || !class_match(p, t[0], len)) return false;
      p.remove_prefix(len);
    } else {
      if (p[0] == '\\' && p.size() > 1) p.remove_prefix(1);
      if (p[0] != t[0]) return false;
      p.remove_prefix(1);
    }
    t.remove_prefix(1);
  }
  return t.empty();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  return match(pattern, text);
}

}  // namespace askd::rag
