// tests/support/recording_port.hpp — a stream hub's port that keeps every event it is
// given, for the actor tests (hub, stream, call supervisor).
#pragma once

#include <string>
#include <vector>

#include "actors/stream_hub.hpp"

namespace askd::test {

struct recording_port : actors::sink_port {
  std::vector<core::stream_event> got;
  int lives = 0;   // live() calls: replay over, events now as they come
  int closes = 0;  // closed() calls
  int moves = 0;   // moved() calls
  void deliver(const core::stream_event& e) override { got.push_back(e); }
  void moved() override { ++moves; }
  void live() override { ++lives; }
  void closed(const core::stream_event&) override { ++closes; }
  // The deltas' text, in order.
  std::string text() const {
    std::string t;
    for (const auto& e : got)
      if (e.type == core::event_type::delta) t += e.text;
    return t;
  }
};

}  // namespace askd::test
