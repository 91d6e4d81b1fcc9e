#include "providers/sse_parser.hpp"

#include <cstring>

namespace askd::providers {

bool sse_parser::feed(std::string_view bytes, std::vector<sse_event>& out) {
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
      take_line(bytes.substr(i, j - i), out);
    } else {
      line_.append(bytes.data() + i, j - i);
      take_line(line_, out);
      line_.clear();
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

void sse_parser::take_line(std::string_view line, std::vector<sse_event>& out) {
  if (line.empty()) {  // a blank line dispatches the event
    if (has_data_) {
      if (!current_.data.empty() && current_.data.back() == '\n') current_.data.pop_back();
      out.push_back(std::move(current_));
    }
    current_ = sse_event{};
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
    current_.data.append(value);
    current_.data += '\n';
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id.assign(value);
  }
  // "retry" and unknown fields are ignored, as the format says.
}

}  // namespace askd::providers
