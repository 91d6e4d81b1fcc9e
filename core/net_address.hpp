// core/net_address.hpp — addresses and origins as askd's policies judge them: the
// networks of trusted proxies, the loopback names a loopback-bound server answers to
// (against DNS rebinding), and the origins a browser may call from. Pure text work.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace askd::core {

// An IPv4 or IPv6 address with a prefix length: "10.0.0.0/8", "fd00::/8", "10.0.0.7".
struct network {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
  int prefix = 128;
};

// An address alone ("10.0.0.7", "::1", IPv4-mapped IPv6 too); nullopt if it is not one.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text);
// An address or a network; nullopt if it is neither.
std::optional<network> parse_network(std::string_view text);
bool contains(const network& net, const std::array<std::uint8_t, 16>& address);

// "127.0.0.1:5301" → "127.0.0.1"; "[::1]:5301" → "::1".
std::string_view address_of_peer(std::string_view peer);

// Whether a Host header names this machine's loopback: localhost, *.localhost,
// 127.0.0.0/8 or [::1], with or without a port.
bool is_loopback_host(std::string_view host);
// Whether the address (not a name) is a loopback one.
bool is_loopback_address(std::string_view address);

// "*" or "http(s)://host[:port]" (no path, no trailing slash).
bool is_origin(std::string_view text);
// Whether `origin` (a browser's Origin header) is this server's own: its authority is the
// request's Host.
bool same_origin(std::string_view origin, std::string_view host);

}  // namespace askd::core
