// apps/askload/stats.hpp — what askload records per stream and per second, and the
// three ways it reports them: a text table, JSON, and a self-contained HTML page with
// SVG charts. Pure functions over the recorded data: no sockets, no clocks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "net/client.hpp"

namespace askload {

// How a received answer compares with the expected one (verify mode).
enum class verdict : std::uint8_t { none, exact, lost, duplicated, corrupted };
std::string_view name(verdict v);
// exact: equal; lost: what arrived is the expected text with parts missing; duplicated:
// the expected text with parts repeated; corrupted: anything else.
verdict compare(std::string_view expected, std::string_view got);

struct stream_record {
  double start_s = 0;  // since the run began
  float connect_ms = -1, ttfb_ms = -1, ttft_ms = -1, total_ms = -1;
  float max_gap_ms = 0;  // the longest wait between two chunks of text
  std::uint64_t bytes = 0, chunks = 0;
  askd::client::outcome what = askd::client::outcome::ok;
  verdict check = verdict::none;
  std::uint8_t attempts = 0;
  bool finished = false;
};

struct second_stats {
  int started = 0, done = 0, failed = 0, in_flight = 0;
  std::map<std::string, int> errors;  // outcome class -> streams that ended so this second
};

struct run_info {
  std::string target, url, mode;  // mode: "closed loop, 100 clients" / "open loop, 50/s"
  double elapsed_s = 0;
  int skipped = 0;  // open loop: starts not made because the connection cap was reached
};

struct run_data {
  run_info info;
  std::vector<stream_record> streams;
  std::vector<float> gaps;  // every gap between chunks of text, ms (bounded in count)
  std::vector<second_stats> timeline;
  std::map<std::string, std::string> first_error;  // outcome class -> its first message
};

struct distribution {
  std::size_t n = 0;
  double min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};
distribution distribution_of(std::vector<float> values);

// Each stream's value of `field` where it was measured (>= 0).
std::vector<float> values_of(const std::vector<stream_record>& s, float stream_record::*field);

std::string summary_text(const run_data& d);
std::string summary_json(const run_data& d);
std::string html_report(const run_data& d);

}  // namespace askload
