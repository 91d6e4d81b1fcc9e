// providers/sse_parser.hpp — Server-Sent Events framing (the WHATWG event-stream
// format) decoded from bytes that arrive in any split: an event, a line, a CRLF pair
// or a multi-byte UTF-8 character may be cut across reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace askd::providers {

struct sse_event {
  std::string event;  // "" means the default type, "message"
  std::string data;   // data lines joined with '\n'
  std::string id;
};

class sse_parser {
 public:
  // `max_event_bytes` bounds what one event may buffer: an upstream that never ends
  // a line cannot make us grow without bound.
  explicit sse_parser(std::size_t max_event_bytes = 8 << 20) : max_(max_event_bytes) {}

  // Appends each event completed by `bytes` to `out`. Returns false when an event
  // exceeds the bound (the parser is then unusable).
  bool feed(std::string_view bytes, std::vector<sse_event>& out);

  // Bytes held for an event or line not yet complete.
  std::size_t pending() const { return line_.size() + current_.data.size(); }

 private:
  void take_line(std::string_view line, std::vector<sse_event>& out);

  std::size_t max_;
  std::string line_;      // an incomplete line carried to the next feed
  bool skip_lf_ = false;  // the last byte was CR: a following LF belongs to it
  sse_event current_;
  bool has_data_ = false;
};

}  // namespace askd::providers
