// tests/support/collected_events.hpp — what a provider's stream decoder found, collected
// for the decoder tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "providers/provider.hpp"

namespace askd::test {

struct collected : providers::decode_events {
  std::string text;
  std::vector<std::string> deltas;
  core::token_usage usage;
  bool usage_seen = false;
  std::string finish;
  void on_delta(std::string_view t) override {
    text += t;
    deltas.emplace_back(t);
  }
  void on_usage(const core::token_usage& u) override {
    usage = u;
    usage_seen = true;
  }
  void on_finish_reason(std::string_view r) override { finish = r; }
};

}  // namespace askd::test
