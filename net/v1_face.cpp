#include "net/v1_face.hpp"

#include <chrono>

#include "core/json.hpp"
#include "core/log.hpp"
#include "net/askd_service.hpp"
#include "net/compat_face.hpp"

namespace askd::net {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The data line of an event: a delta's is built from its text.
std::string data_of(const core::stream_event& event) {
  return event.type == core::event_type::delta ? core::delta_data(event.text) : event.data;
}

}  // namespace

std::string sse_event(const core::stream_event& event) {
  auto data = data_of(event);
  std::string out;
  out.reserve(data.size() + 48);
  out += "id: ";
  out += std::to_string(event.seq);
  out += "\nevent: ";
  out += core::to_string(event.type);
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

std::size_t pace_bytes(std::size_t queue_bytes) {
  return std::min<std::size_t>(16 * 1024, queue_bytes / 4);
}

namespace {

// A port that fell behind more than the stream keeps is cut off, as a client too slow
// for its queue is: it reconnects and is told what was dropped.
void log_lost(std::string_view face, std::string_view id, std::uint64_t dropped) {
  core::log_warn("slow watcher cut off")
      .kv("face", face)
      .kv("id", id)
      .kv("dropped_through", dropped)
      .kv("reason", "streams.replay_bytes");
}

}  // namespace

sse_port::sse_port(std::shared_ptr<response> res, std::string request_id, int ping_s,
                   bool start_on_live, std::size_t queue_bytes)
    : res_(std::move(res)),
      request_id_(std::move(request_id)),
      ping_s_(ping_s),
      start_on_live_(start_on_live),
      pacer_(queue_bytes) {}

void sse_port::start() {
  if (started_) return;
  started_ = true;
  // With the head: a browser's EventSource waits this long before reconnecting with
  // Last-Event-ID.
  std::string_view retry = "retry: 1000\n\n";
  count_write(retry.size());
  res_->start(200, stream_headers(request_id_), retry);
  schedule_ping();
}

void sse_port::write(std::string text) {
  count_write(text.size());
  res_->write(std::move(text));
}

void sse_port::count_write(std::size_t bytes) {
  last_write_ms_ = now_ms();
  pacer_.wrote(bytes);
}

void sse_port::lost(std::uint64_t dropped) {
  log_lost("sse", request_id_, dropped);
  finished_ = true;
  res_->abort();
}

void sse_port::moved() {
  core::log_info("stream moved").kv("id", request_id_).kv("face", "sse");
  finished_ = true;
  res_->abort();  // no end: the client resumes, and reaches the stream's node now
}

// `: ping` after ping_s without a write, so proxies and clients see the stream alive.
void sse_port::schedule_ping() {
  auto self = shared_from_this();
  res_->after(std::chrono::seconds(ping_s_), [self] {
    if (self->finished_) return;
    if (now_ms() - self->last_write_ms_ >= self->ping_s_ * 1000 - 50) self->write(": ping\n\n");
    self->schedule_ping();
  });
}

void sse_port::deliver(const core::stream_event& event) {
  if (!started_) {
    // An error before the stream started is a refusal, with its HTTP status: the chat's
    // own refusal (before `meta`), or a resume that cannot be served (seq 0). A status
    // other than 200 also stops a browser's EventSource from reconnecting.
    if (event.type == core::event_type::error &&
        (event.seq == 0 || (event.seq <= 1 && !start_on_live_))) {
      finished_ = true;
      return send_refusal(*res_, event.code, event.text, event.retry_after_ms, request_id_);
    }
    start();
  }
  write(sse_event(event));
  if (event.terminal()) {
    finished_ = true;
    res_->finish();
  }
}

void sse_port::live() {
  if (start_on_live_) start();
}

void sse_port::closed(const core::stream_event&) {
  finished_ = true;
  // Nothing more will come: 204 tells an EventSource to stop reconnecting.
  if (!started_) return res_->send(204, "text/plain", "");
  res_->finish();
}

std::string ws_v1_frame(std::string_view type, std::string_view stream_id, std::uint64_t seq,
                        std::string_view data, std::string_view client_id) {
  std::string f = "{\"type\":";
  f += core::json::quote(type);
  if (!client_id.empty()) f += ",\"id\":" + core::json::quote(client_id);
  if (!stream_id.empty()) f += ",\"stream_id\":" + core::json::quote(stream_id);
  if (seq) f += ",\"seq\":" + std::to_string(seq);
  f += ",\"data\":";
  f += data.empty() ? std::string_view("{}") : data;
  f += '}';
  return f;
}

void ws_v1_port::deliver(const core::stream_event& event) {
  auto frame =
      ws_v1_frame(core::to_string(event.type), stream_id_, event.seq, data_of(event), client_id_);
  pacer_.wrote(frame.size());
  ws_->send(std::move(frame));
  if (event.terminal()) over_ = true;
}

void ws_v1_port::lost(std::uint64_t dropped) {
  // One socket carries other streams: this one ends with an error frame, the socket stays.
  log_lost("ws", stream_id_, dropped);
  auto e = core::make_error(core::error::make(
      core::error_code::overloaded,
      "this client read more slowly than the stream was written: events up to " +
          std::to_string(dropped) + " are no longer kept (streams.replay_bytes)"));
  ws_->send(ws_v1_frame("error", stream_id_, 0, e.data, client_id_));
  over_ = true;
}

void ws_v1_port::moved() {
  core::log_info("stream moved").kv("stream", stream_id_).kv("face", "ws");
  over_ = true;
  // 1012 (service restart): the client reconnects and resumes from its last event.
  ws_->close(1012, "stream moved; resume");
}

}  // namespace askd::net
