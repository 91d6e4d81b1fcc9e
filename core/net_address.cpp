#include "core/net_address.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "core/text.hpp"

namespace askd::core {
namespace {

bool ends_with_i(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

// "host:port" / "[v6]:port" / "host" → the host part, brackets removed.
std::string_view host_part(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(1, close - 1);
  }
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(':') == colon)
    return authority.substr(0, colon);
  return authority;
}

}  // namespace

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<network> parse_network(std::string_view text) {
  auto slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return std::nullopt;
  bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  network net;
  net.bytes = *ip;
  net.prefix = 128;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    int n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    if (n > (v4 ? 32 : 128)) return std::nullopt;
    net.prefix = v4 ? 96 + n : n;
  }
  return net;
}

bool contains(const network& net, const std::array<std::uint8_t, 16>& address) {
  int bits = net.prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((net.bytes[i] & mask) != (address[i] & mask)) return false;
  }
  return true;
}

std::string_view address_of_peer(std::string_view peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string_view::npos) return peer;
  auto addr = peer.substr(0, colon);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  return addr;
}

bool is_loopback_address(std::string_view address) {
  auto ip = parse_ip(address);
  if (!ip) return false;
  static const network v4{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0}, 104};
  static const network v6{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128};
  return contains(v4, *ip) || contains(v6, *ip);
}

bool is_loopback_host(std::string_view host) {
  auto name = host_part(host);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "localhost."
  if (iequals(name, "localhost") || ends_with_i(name, ".localhost")) return true;
  return is_loopback_address(name);
}

bool is_origin(std::string_view text) {
  if (text == "*") return true;
  std::string_view rest;
  if (text.rfind("https://", 0) == 0)
    rest = text.substr(8);
  else if (text.rfind("http://", 0) == 0)
    rest = text.substr(7);
  else
    return false;
  if (rest.empty()) return false;
  for (char c : rest)
    if (c == '/' || c == '?' || c == '#' || c == '@' || c == ' ' ||
        static_cast<unsigned char>(c) < 0x21)
      return false;
  return true;
}

bool same_origin(std::string_view origin, std::string_view host) {
  auto at = origin.find("://");
  if (at == std::string_view::npos || host.empty()) return false;
  return iequals(origin.substr(at + 3), host);
}

}  // namespace askd::core
