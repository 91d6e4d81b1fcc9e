#include "providers/sse_parser.hpp"

#include <cstring>

namespace askd::providers {

namespace {
// A buffer grown past this by a rare large event is given back when the event ends: an
// open stream holds only what its events need (bench/memory.sh).
constexpr std::size_t kept_capacity = 4096;

void release_if_large(std::string& s) {
  s.clear();
  if (s.capacity() > kept_capacity) std::string().swap(s);
}
}  // namespace

void sse_parser::field::set(std::string_view v, bool stable) {
  if (stable) {
    borrowed = v;
    is_borrowed = true;
  } else {
    own.assign(v);
    is_borrowed = false;
  }
}

void sse_parser::field::append_line(std::string_view v) {
  keep();
  own += '\n';
  own.append(v);
}

void sse_parser::field::keep() {
  if (!is_borrowed) return;
  own.assign(borrowed);
  is_borrowed = false;
}

void sse_parser::field::reset() {
  is_borrowed = false;
  release_if_large(own);
}

bool sse_parser::feed(std::string_view bytes, std::vector<sse_event>& out) {
  return feed(bytes, [&out](const sse_view& e) {
    out.push_back({std::string(e.event), std::string(e.data), std::string(e.id)});
  });
}

bool sse_parser::feed(std::string_view bytes, event_fn on_event, void* context) {
  bool ok = feed_lines(bytes, on_event, context);
  // What an unfinished event borrowed from `bytes` is copied before they go.
  event_.keep();
  data_.keep();
  id_.keep();
  return ok;
}

bool sse_parser::feed_lines(std::string_view bytes, event_fn on_event, void* context) {
  std::size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    skip_lf_ = false;
    if (bytes[0] == '\n') i = 1;
  }
  while (i < bytes.size()) {
    // Find the end of the current line: LF, CR or CRLF. memchr, not a loop over the
    // bytes: this runs over every byte of every answer (bench/RESULTS.md, per delta).
    const char* from = bytes.data() + i;
    auto rest = bytes.size() - i;
    const auto* lf = static_cast<const char*>(std::memchr(from, '\n', rest));
    auto line = lf ? static_cast<std::size_t>(lf - from) : rest;
    const auto* cr = static_cast<const char*>(std::memchr(from, '\r', line));
    std::size_t j = i + (cr ? static_cast<std::size_t>(cr - from) : line);
    if (j == bytes.size()) {
      line_.append(bytes.data() + i, j - i);
      return pending() <= max_;
    }
    if (line_.empty()) {
      take_line(bytes.substr(i, j - i), true, on_event, context);
    } else {
      line_.append(bytes.data() + i, j - i);
      take_line(line_, false, on_event, context);
      release_if_large(line_);
    }
    if (pending() > max_) return false;
    if (bytes[j] == '\r') {
      if (j + 1 < bytes.size()) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        skip_lf_ = true;
      }
    }
    i = j + 1;
  }
  return pending() <= max_;
}

void sse_parser::take_line(std::string_view line, bool stable, event_fn on_event, void* context) {
  if (line.empty()) {  // a blank line dispatches the event
    if (has_data_) on_event(context, sse_view{event_.text(), data_.text(), id_.text()});
    event_.reset();
    data_.reset();
    id_.reset();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // a comment (keep-alives, OpenRouter's "PROCESSING")
  auto colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_)
      data_.append_line(value);
    else
      data_.set(value, stable);
    has_data_ = true;
  } else if (field == "event") {
    event_.set(value, stable);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_.set(value, stable);
  }
  // "retry" and unknown fields are ignored, as the format says.
}

}  // namespace askd::providers
