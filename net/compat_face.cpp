#include "net/compat_face.hpp"

#include "net/askd_service.hpp"

namespace askd::net {

header_list compat_stream_headers(const std::string& request_id) {
  return {{"Content-Type", "text/event-stream; charset=utf-8"},
          {"Cache-Control", "no-cache, no-transform"},
          {"X-Accel-Buffering", "no"},
          {"Access-Control-Allow-Origin", "*"},
          {"X-Request-Id", request_id}};
}

void send_refusal(response& res, const core::stream_event& error, const std::string& request_id) {
  header_list extra{{"X-Request-Id", request_id}};
  if (error.retry_after_ms >= 0)
    extra.emplace_back("Retry-After", std::to_string((error.retry_after_ms + 999) / 1000));
  send_detail(res, core::http_status(error.code), error.text, std::move(extra));
}

void compat_http_port::deliver(const core::stream_event& event) {
  if (!started_) {
    if (event.type == core::event_type::error) return send_refusal(*res_, event, request_id_);
    started_ = true;
    res_->start(200, compat_stream_headers(request_id_));
  }
  switch (event.type) {
    case core::event_type::delta:
      res_->write(event.text);
      break;
    case core::event_type::error:
      res_->write("\nError: " + event.text);
      res_->finish();
      break;
    case core::event_type::done:
      res_->finish();
      break;
    default:  // meta, progress, sources, stage: v1 only
      break;
  }
}

void compat_ws_port::deliver(const core::stream_event& event) {
  switch (event.type) {
    case core::event_type::delta:
      ws_->send(event.text);
      break;
    case core::event_type::error:
      ws_->send("Error: " + event.text);
      ws_->close(1000);
      break;
    case core::event_type::done:
      ws_->close(1000);
      break;
    default:
      break;
  }
}

}  // namespace askd::net
