// The SSE parser: the events of an input are the same whether it arrives whole or cut at
// any two points (unless an event passes the parser's bound, where a split may find it
// sooner).
#include <cstdint>
#include <vector>

#include "providers/sse_parser.hpp"
#include "tests/fuzz/fuzz_input.hpp"

using askd::providers::sse_event;
using askd::providers::sse_parser;

namespace {
bool same(const std::vector<sse_event>& a, const std::vector<sse_event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  askd::fuzz::input in(data, size);
  const auto cuts = in.two_cuts();
  const std::size_t first = cuts.first, second = cuts.second;
  auto text = in.rest;
  const std::size_t bound = 1024;
  sse_parser whole(bound);
  std::vector<sse_event> a;
  bool whole_ok = whole.feed(text, a);
  sse_parser split(bound);
  std::vector<sse_event> b;
  bool split_ok = split.feed(text.substr(0, first), b) &&
                  split.feed(text.substr(first, second - first), b) &&
                  split.feed(text.substr(second), b);
  if (whole_ok && split_ok && !same(a, b)) __builtin_trap();
  // Byte by byte, for short inputs.
  if (text.size() <= 256 && whole_ok) {
    sse_parser bytes(bound);
    std::vector<sse_event> c;
    bool ok = true;
    for (std::size_t i = 0; ok && i < text.size(); ++i) ok = bytes.feed(text.substr(i, 1), c);
    if (ok && !same(a, c)) __builtin_trap();
  }
  return 0;
}
