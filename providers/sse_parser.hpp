// providers/sse_parser.hpp — Server-Sent Events framing (the WHATWG event-stream
// format) decoded from bytes that arrive in any split: an event, a line, a CRLF pair
// or a multi-byte UTF-8 character may be cut across reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace askd::providers {

// One event as the parser hands it over: views valid only during the call that gets it.
// An event whole inside one read is not copied at all (its fields are views of the read's
// bytes); one cut across reads is held in the parser's own buffers until it ends.
struct sse_view {
  std::string_view event;  // "" means the default type, "message"
  std::string_view data;   // data lines joined with '\n'
  std::string_view id;
};

// An event that owns its text (tests, and callers keeping events past the call).
struct sse_event {
  std::string event;
  std::string data;
  std::string id;
};

class sse_parser {
 public:
  // Called with each event completed; `context` is the caller's.
  using event_fn = void (*)(void* context, const sse_view& event);

  // `max_event_bytes` bounds what one event may buffer: an upstream that never ends
  // a line cannot make us grow without bound.
  explicit sse_parser(std::size_t max_event_bytes = 8 << 20) : max_(max_event_bytes) {}

  // Calls `on_event(event)` for each event completed by `bytes`. Returns false when an
  // event exceeds the bound (the parser is then unusable, as it is after a callback
  // throws).
  template <class F>
  bool feed(std::string_view bytes, F&& on_event) {
    return feed(bytes, &call<std::remove_reference_t<F>>,
                const_cast<void*>(static_cast<const void*>(&on_event)));
  }
  bool feed(std::string_view bytes, event_fn on_event, void* context);
  // Appends owned copies of the events completed by `bytes` to `out`.
  bool feed(std::string_view bytes, std::vector<sse_event>& out);

  // Bytes held for an event or line not yet complete.
  std::size_t pending() const { return line_.size() + data_.text().size() + (has_data_ ? 1 : 0); }

 private:
  template <class F>
  static void call(void* f, const sse_view& event) {
    (*static_cast<F*>(f))(event);
  }

  // A field's value: a view of the bytes being fed (`stable` lines), else a copy.
  struct field {
    std::string own;
    std::string_view borrowed;
    bool is_borrowed = false;
    std::string_view text() const { return is_borrowed ? borrowed : std::string_view(own); }
    void set(std::string_view v, bool stable);
    void append_line(std::string_view v);  // '\n' and v after what is there
    void keep();                           // a copy, before the fed bytes go
    void reset();
  };

  bool feed_lines(std::string_view bytes, event_fn on_event, void* context);
  void take_line(std::string_view line, bool stable, event_fn on_event, void* context);

  std::size_t max_;
  std::string line_;      // an incomplete line carried to the next feed
  bool skip_lf_ = false;  // the last byte was CR: a following LF belongs to it
  field event_, data_, id_;
  bool has_data_ = false;
};

}  // namespace askd::providers
