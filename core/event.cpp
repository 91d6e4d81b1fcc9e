#include "core/event.hpp"

#include "core/json.hpp"

namespace askd::core {

std::string_view to_string(event_type t) {
  switch (t) {
    case event_type::meta:
      return "meta";
    case event_type::progress:
      return "progress";
    case event_type::sources:
      return "sources";
    case event_type::stage:
      return "stage";
    case event_type::delta:
      return "delta";
    case event_type::error:
      return "error";
    case event_type::done:
      return "done";
  }
  return "unknown";
}

stream_event make_meta(std::string_view stream_id, std::string_view request_id,
                       std::string_view provider, std::string_view model, std::string_view repo) {
  stream_event e;
  e.type = event_type::meta;
  auto& d = e.data;  // every stream's first event: one buffer, no temporaries
  d.reserve(96 + stream_id.size() + request_id.size() + provider.size() + model.size() +
            repo.size());
  d += "{\"stream_id\":";
  json::append_quoted(d, stream_id);
  d += ",\"request_id\":";
  json::append_quoted(d, request_id);
  d += ",\"provider\":";
  json::append_quoted(d, provider);
  d += ",\"model\":";
  json::append_quoted(d, model);
  d += ",\"repo\":{\"url\":";
  json::append_quoted(d, repo);
  d += "}}";
  return e;
}

stream_event make_sources(const std::vector<source_ref>& sources) {
  stream_event e;
  e.type = event_type::sources;
  e.data = "{\"sources\":[";
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto& s = sources[i];
    if (i) e.data += ',';
    e.data += "{\"path\":" + json::quote(s.path) +
              ",\"start_line\":" + std::to_string(s.start_line) +
              ",\"end_line\":" + std::to_string(s.end_line) +
              ",\"score\":" + json::format_number(s.score);
    if (!s.text.empty()) e.data += ",\"text\":" + json::quote(s.text);
    e.data += '}';
  }
  e.data += "]}";
  return e;
}

stream_event make_progress(std::string_view phase, std::int64_t done, std::int64_t total) {
  stream_event e;
  e.type = event_type::progress;
  e.data = "{\"phase\":" + json::quote(phase) + ",\"done\":" + std::to_string(done) +
           ",\"total\":" + std::to_string(total) + "}";
  return e;
}

stream_event make_stage(int round, std::string_view kind) {
  stream_event e;
  e.type = event_type::stage;
  e.data = "{\"round\":" + std::to_string(round) + ",\"kind\":" + json::quote(kind) + "}";
  return e;
}

stream_event make_delta(std::string text) {
  stream_event e;
  e.type = event_type::delta;
  e.text = std::move(text);
  return e;
}

stream_event make_error(const error& err) {
  stream_event e;
  e.type = event_type::error;
  e.text = err.message;
  e.code = err.code;
  e.retry_after_ms = err.retry_after_ms;
  e.data = "{\"code\":\"";
  e.data += wire_name(err.code);
  e.data += "\",\"message\":";
  e.data += json::quote(err.message);
  e.data += ",\"retryable\":";
  e.data += err.retryable ? "true" : "false";
  if (err.retry_after_ms >= 0)
    e.data += ",\"retry_after_ms\":" + std::to_string(err.retry_after_ms);
  e.data += '}';
  return e;
}

stream_event make_done(const done_info& info) {
  stream_event e;
  e.type = event_type::done;
  auto& d = e.data;  // every stream's last event: one buffer, no temporaries
  d.reserve(192 + info.finish_reason.size());
  d += "{\"finish_reason\":";
  json::append_quoted(d, info.finish_reason);
  d += ",\"usage\":{\"prompt_tokens\":";
  d += std::to_string(info.usage.prompt_tokens);
  d += ",\"completion_tokens\":";
  d += std::to_string(info.usage.completion_tokens);
  d += "},\"timings\":{\"ttft_ms\":";
  d += std::to_string(info.ttft_ms);
  d += ",\"total_ms\":";
  d += std::to_string(info.total_ms);
  d += "},\"degraded\":[";
  for (std::size_t i = 0; i < info.degraded.size(); ++i) {
    if (i) d += ',';
    json::append_quoted(d, info.degraded[i]);
  }
  d += "],\"cached\":";
  d += info.cached ? "true}" : "false}";
  return e;
}

std::string delta_data(std::string_view text) {
  std::string d = "{\"text\":\"";
  json::append_escaped(d, text);
  d += "\"}";
  return d;
}

}  // namespace askd::core
