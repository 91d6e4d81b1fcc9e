// providers/aws.hpp — what talking to AWS takes: Signature Version 4 and the
// `application/vnd.amazon.eventstream` binary framing (Bedrock's ConverseStream body).
//
// We sign ourselves instead of using CURLOPT_AWS_SIGV4: libcurl 7.88 puts the request
// path into the canonical request as sent, where AWS (every service but S3) URI-encodes
// each path segment once more, so a model id with ':' (anthropic.claude-...-v1:0) would
// be refused with SignatureDoesNotMatch (checked against a Python signer following AWS's
// rules: tests/unit/bedrock_test.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/provider.hpp"

namespace askd::providers::aws {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// What a signature covers. `path` and `query` as they go on the wire (already
// percent-encoded once); `headers` are the signed ones (names in any case; `host` and
// `x-amz-date` must be among them).
struct signing_input {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view payload;
  std::string amz_date;  // 20150830T123600Z
  std::string region;
  std::string service;
  std::string access_key;
  std::string secret_key;
};

// The Authorization header's value: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...
std::string authorization(const signing_input& in);

// The canonical request (for tests and for a verifier's error message).
std::string canonical_request(const signing_input& in);

// Now as x-amz-date wants it.
std::string amz_date_now();

// -- event stream ---------------------------------------------------------------------

// CRC-32 (IEEE 802.3, as zlib computes it), continuing from `crc`.
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

struct event_message {
  std::map<std::string, std::string> headers;  // string-valued headers (":event-type", ...)
  std::string payload;
};

// One message framed: total length, headers length, prelude CRC, headers (all strings),
// payload, message CRC.
std::string encode_event(const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view payload);

// Messages from bytes that arrive in any split. A frame whose CRC does not match, whose
// lengths do not add up, or that is longer than `max_message_bytes` is an error: the
// decoder stops there (nothing after a bad frame can be trusted).
class event_stream_decoder {
 public:
  explicit event_stream_decoder(std::size_t max_message_bytes = 16 << 20)
      : max_(max_message_bytes) {}
  // Appends each message completed by `bytes` to `out`; the error, if the framing broke.
  std::optional<std::string> feed(std::string_view bytes, std::vector<event_message>& out);
  // Bytes held for a message not yet complete.
  std::size_t pending() const { return buffer_.size(); }

 private:
  std::size_t max_;
  std::string buffer_;
  bool broken_ = false;
};

}  // namespace askd::providers::aws
