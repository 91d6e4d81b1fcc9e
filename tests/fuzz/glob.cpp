// Glob and .gitignore matching on any pattern and path: it ends (libFuzzer's -timeout
// fails an input that takes seconds) and agrees with itself.
#include <cstdint>
#include <string>

#include "rag/file_filter.hpp"
#include "rag/glob.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  askd::fuzz::input in(data, size);
  auto text = in.rest;
  auto nl = text.find('\n');
  auto pattern = text.substr(0, nl);
  auto path = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  auto path_end = path.find('\n');
  auto rest = path_end == std::string_view::npos ? std::string_view() : path.substr(path_end + 1);
  path = path.substr(0, path_end);
  bool m = askd::rag::glob_match(pattern, path);
  if (m != askd::rag::glob_match(pattern, path)) __builtin_trap();
  // A pattern without special characters matches exactly itself.
  if (pattern.find_first_of("*?[\\") == std::string_view::npos && m != (pattern == path))
    __builtin_trap();
  // The rest is a .gitignore in the root, asked about the path and each of its parents.
  askd::rag::gitignore ignore;
  ignore.add("", rest);
  std::string_view p = path;
  while (!p.empty()) {
    (void)ignore.ignored(p, false);
    (void)ignore.ignored(p, true);
    auto slash = p.rfind('/');
    if (slash == std::string_view::npos) break;
    p = p.substr(0, slash);
  }
  return 0;
}
