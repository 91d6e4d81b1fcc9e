// The SSE parser: the events of an input are the same whether it arrives whole or cut at
// any two points (unless an event passes the parser's bound, where a split may find it
// sooner).
#include <cstdint>
#include <string>
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
  // The parts go through one buffer overwritten after each feed, as the curl engine's
  // receive buffer is: an event cut across parts must not keep views of an old one.
  sse_parser split(bound);
  std::vector<sse_event> b;
  std::string buffer;
  auto feed_part = [&](std::string_view part) {
    buffer.assign(part);
    bool ok = split.feed(buffer, b);
    buffer.assign(buffer.size(), '\xff');
    return ok;
  };
  bool split_ok = feed_part(text.substr(0, first)) &&
                  feed_part(text.substr(first, second - first)) && feed_part(text.substr(second));
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
