#include "net/compat_face.hpp"

#include "net/askd_service.hpp"

namespace askd::net {

header_list stream_headers(const std::string& request_id) {
  // Emplaced, not from an initializer list (whose strings would be made and then copied):
  // every stream's head.
  header_list h;
  h.reserve(4);
  h.emplace_back("Content-Type", "text/event-stream; charset=utf-8");
  h.emplace_back("Cache-Control", "no-cache, no-transform");
  h.emplace_back("X-Accel-Buffering", "no");
  h.emplace_back("X-Request-Id", request_id);
  return h;
}

void compat_http_port::deliver(const core::stream_event& event) {
  if (!started_) {
    if (event.type == core::event_type::error && !admitted_)
      return send_refusal(*res_, event.code, event.text, event.retry_after_ms, request_id_);
    if (event.type == core::event_type::meta) {
      admitted_ = true;
      return;
    }
    started_ = true;
    std::string error;
    std::string_view first;
    if (event.type == core::event_type::delta) first = event.text;
    if (event.type == core::event_type::error) first = error = "\nError: " + event.text;
    res_->start(200, stream_headers(request_id_), first);
    if (event.type == core::event_type::error || event.type == core::event_type::done)
      res_->finish();
    return;
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
