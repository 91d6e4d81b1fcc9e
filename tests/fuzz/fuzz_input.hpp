// tests/fuzz/fuzz_input.hpp — reading a fuzzer's bytes as choices and the rest as text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace askd::fuzz {

struct input {
  std::string_view rest;
  input(const std::uint8_t* data, std::size_t size)
      : rest(reinterpret_cast<const char*>(data), size) {}
  // One byte as a choice (0 when there is none left).
  std::uint8_t byte() {
    if (rest.empty()) return 0;
    auto b = static_cast<std::uint8_t>(rest[0]);
    rest.remove_prefix(1);
    return b;
  }
  // Two positions first <= second in what is left after their two bytes: where to cut
  // the rest into three parts.
  std::pair<std::size_t, std::size_t> two_cuts() {
    auto b1 = byte(), b2 = byte();
    std::size_t first = b1 % (rest.size() + 1);
    return {first, first + b2 % (rest.size() - first + 1)};
  }
};

}  // namespace askd::fuzz
