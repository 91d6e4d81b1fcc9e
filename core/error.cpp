#include "core/error.hpp"

namespace askd::core {

std::string_view wire_name(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return "bad_request";
    case error_code::unauthorized:
      return "unauthorized";
    case error_code::forbidden:
      return "forbidden";
    case error_code::rate_limited:
      return "rate_limited";
    case error_code::overloaded:
      return "overloaded";
    case error_code::timeout:
      return "timeout";
    case error_code::provider_unavailable:
      return "provider_unavailable";
    case error_code::context_length:
      return "context_length";
    case error_code::upstream:
      return "upstream";
    case error_code::bad_response:
      return "upstream";
    case error_code::cancelled:
      return "cancelled";
    case error_code::internal:
      return "internal";
  }
  return "internal";
}

int http_status(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return 400;
    case error_code::unauthorized:
      return 401;
    case error_code::forbidden:
      return 403;
    case error_code::rate_limited:
      return 429;
    case error_code::overloaded:
      return 429;
    case error_code::timeout:
      return 504;
    case error_code::provider_unavailable:
      return 503;
    case error_code::context_length:
      return 400;
    case error_code::upstream:
      return 502;
    case error_code::bad_response:
      return 502;
    case error_code::cancelled:
      return 499;
    case error_code::internal:
      return 500;
  }
  return 500;
}

bool retryable_by_default(error_code code) {
  switch (code) {
    case error_code::rate_limited:
    case error_code::overloaded:
    case error_code::timeout:
    case error_code::upstream:
      return true;
    default:
      return false;
  }
}

}  // namespace askd::core
