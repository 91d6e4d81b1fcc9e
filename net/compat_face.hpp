// net/compat_face.hpp — deepwiki-open's framing of a stream (PROTOCOL.md, "Compat
// face"): raw text chunks over chunked HTTP, or one WebSocket text frame per chunk.
// Errors once streaming began: "\nError: ..." in the HTTP body, or one "Error: ..." frame.
#pragma once

#include <memory>

#include "actors/engine.hpp"
#include "net/http_server.hpp"

namespace askd::net {

// The response headers of a streamed answer, both faces (the compat face labels its raw
// text as SSE too, as deepwiki-open does).
header_list stream_headers(const std::string& request_id);

// `meta` says the request was admitted; an error before it is a refusal, answered as a
// JSON detail with its HTTP status (429 + Retry-After). The status line goes out after
// `meta`, with the answer's first bytes in one write, or on the first sign of a longer
// wait (retrieval's progress, its sources, a research stage), whichever comes first.
class compat_http_port : public actors::sink_port {
 public:
  compat_http_port(std::shared_ptr<response> res, std::string request_id)
      : res_(std::move(res)), request_id_(std::move(request_id)) {}
  void deliver(const core::stream_event& event) override;

 private:
  std::shared_ptr<response> res_;
  std::string request_id_;
  bool admitted_ = false;  // `meta` came
  bool started_ = false;   // the head went
};

class compat_ws_port : public actors::sink_port {
 public:
  explicit compat_ws_port(std::shared_ptr<websocket> ws) : ws_(std::move(ws)) {}
  void deliver(const core::stream_event& event) override;

 private:
  std::shared_ptr<websocket> ws_;
};

}  // namespace askd::net
