// Bedrock's binary event stream: any bytes, whole or cut at two points, give the same
// messages and the same error; a frame is never read past its bounds.
#include <cstdint>
#include <vector>

#include "providers/aws.hpp"
#include "tests/fuzz/fuzz_input.hpp"

using namespace askd::providers::aws;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  askd::fuzz::input in(data, size);
  const auto cuts = in.two_cuts();
  const std::size_t first = cuts.first, second = cuts.second;
  auto bytes = in.rest;
  event_stream_decoder whole(1 << 16);
  std::vector<event_message> a;
  auto ea = whole.feed(bytes, a);
  event_stream_decoder split(1 << 16);
  std::vector<event_message> b;
  auto eb = split.feed(bytes.substr(0, first), b);
  if (!eb) eb = split.feed(bytes.substr(first, second - first), b);
  if (!eb) eb = split.feed(bytes.substr(second), b);
  if (ea.has_value() != eb.has_value() || a.size() != b.size()) __builtin_trap();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].headers != b[i].headers || a[i].payload != b[i].payload) __builtin_trap();
  // What it decodes, encoded again, decodes to the same.
  for (const auto& m : a) {
    std::vector<std::pair<std::string, std::string>> h(m.headers.begin(), m.headers.end());
    event_stream_decoder again;
    std::vector<event_message> c;
    if (again.feed(encode_event(h, m.payload), c) || c.size() != 1 || c[0].payload != m.payload)
      __builtin_trap();
  }
  return 0;
}
