// core/error.hpp — errors are values with a class, made once where the fault is
// seen and carried unchanged to the client (the v1 `error` event, the compat
// face's `Error:` text, or an HTTP status before streaming).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace askd::core {

// The failure classes of the supervisor (DESIGN.md, "Supervision semantics") and the
// request errors of PROTOCOL.md's validation table share one enum.
enum class error_code : std::uint8_t {
  bad_request,           // 400: the client's input is wrong
  unauthorized,          // 401: missing/invalid API key (ours or the provider's)
  forbidden,             // 403: repo not allowed
  rate_limited,          // 429: a provider or the per-client rate said no
  overloaded,            // 429: a queue of ours is full
  timeout,               // connect, first token, idle between tokens, deadline
  provider_unavailable,  // 503: no provider could serve (fallback chain exhausted)
  context_length,        // the prompt does not fit the model's window
  upstream,              // 5xx, connection reset, truncated stream: retryable
  bad_response,          // malformed stream or schema: not retryable (wire: "upstream")
  cancelled,             // the client went away or cancelled; never sent to anyone
  internal,              // a bug of ours
};

// The code as PROTOCOL.md names it on the wire.
std::string_view wire_name(error_code code);
// The HTTP status an error gets when it happens before streaming began.
int http_status(error_code code);
// Whether the supervisor may retry this class by default.
bool retryable_by_default(error_code code);

struct error {
  error_code code = error_code::internal;
  std::string message;
  bool retryable = false;
  int upstream_status = 0;           // the provider's HTTP status, when one was seen
  std::int64_t retry_after_ms = -1;  // the provider's Retry-After, when given

  static error make(error_code code, std::string message) {
    return error{code, std::move(message), retryable_by_default(code)};
  }
};

// A value or the error that prevented it.
template <class T>
class result {
 public:
  // By reference, not by value: a value is moved in once (a chat_request is ~15 strings).
  result(T&& value) : value_(std::move(value)), ok_(true) {}  // NOLINT: implicit by design
  result(const T& value) : value_(value), ok_(true) {}        // NOLINT: implicit by design
  result(error err) : error_(std::move(err)), ok_(false) {}   // NOLINT: implicit by design

  explicit operator bool() const { return ok_; }
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  const error& err() const { return error_; }

 private:
  T value_{};
  error error_{};
  bool ok_;
};

}  // namespace askd::core
