// core/ids.hpp — identifiers: request ids for logs, unguessable stream ids.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace askd::core {

// `n` bytes as lower-case hex.
std::string to_hex(const unsigned char* bytes, std::size_t n);

// 64 random bits as 16 hex characters: names a request in logs and X-Request-Id.
std::string new_request_id();
// 128 bits from the kernel's CSPRNG as 32 hex characters: a stream id is a capability.
// 32 random hex digits; in a cluster prefixed with the node that owns the stream and a
// dot ("n2.9f…"), so any node can tell where a stream lives from its id alone.
std::string new_stream_id(std::string_view node = {});
// The node named by a stream id ("" for an id without one).
std::string_view node_of_stream(std::string_view id);

// Compares secrets (API keys) in time that depends on their lengths only.
bool equal_in_constant_time(std::string_view a, std::string_view b);

// "2026-11-24T03:42:00.123Z"
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace askd::core
