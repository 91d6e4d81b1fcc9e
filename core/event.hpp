// core/event.hpp — the events a stream is made of (PROTOCOL.md, v1 event table).
// Both faces render the same events: compat writes delta text and the error message,
// v1 writes each event whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace askd::core {

enum class event_type : std::uint8_t { meta, progress, sources, stage, delta, error, done };

std::string_view to_string(event_type t);

struct stream_event {
  std::uint64_t seq = 0;  // per-stream sequence, from 1; assigned by the stream
  event_type type = event_type::delta;
  std::string text;  // delta: the text; error: the message (what the compat face shows)
  std::string data;  // the JSON object of the v1 `data:` line; empty for delta (built from text)
  // error only: its class and the Retry-After to give, so a face can still answer with an
  // HTTP status (429 + Retry-After) when the error comes before the stream started.
  error_code code = error_code::internal;
  std::int64_t retry_after_ms = -1;

  bool terminal() const { return type == event_type::done || type == event_type::error; }
};

struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

struct done_info {
  std::string finish_reason = "stop";
  token_usage usage;
  std::int64_t ttft_ms = -1;
  std::int64_t total_ms = 0;
  std::vector<std::string> degraded;  // what was given up, e.g. "retrieval", "fallback:local"
  bool cached = false;  // replayed from the answer cache (actors/answer_cache.hpp)
};

// The first event of an admitted request: the stream starts here (a face sends its
// status line on it). Errors before it are refusals.
stream_event make_meta(std::string_view stream_id, std::string_view request_id,
                       std::string_view provider, std::string_view model, std::string_view repo);
// Where the answer's context came from (the v1 `sources` event).
struct source_ref {
  std::string path;
  int start_line = 0;
  int end_line = 0;
  double score = 0;
  std::string text;  // the excerpt, clipped (requests with source_text only)
};

// The longest excerpt text a `sources` event carries per source.
inline constexpr std::size_t max_source_text_bytes = 2000;
stream_event make_sources(const std::vector<source_ref>& sources);
// A long phase's progress (the v1 `progress` event): clone, index, embed, retrieve.
stream_event make_progress(std::string_view phase, std::int64_t done, std::int64_t total);
// A deep research round begins (the v1 `stage` event): its number and kind (plan,
// update, conclusion).
stream_event make_stage(int round, std::string_view kind);
stream_event make_delta(std::string text);
stream_event make_error(const error& err);
stream_event make_done(const done_info& info);
// The JSON of a delta event's data, built on demand by the v1 face.
std::string delta_data(std::string_view text);

}  // namespace askd::core
