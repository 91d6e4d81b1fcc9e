#include "providers/aws.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

#include "core/ids.hpp"

namespace askd::providers::aws {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A header value as AWS canonicalizes it: outer spaces gone, inner runs of spaces one.
std::string trim_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Each segment of a path as sent, encoded once more (AWS: twice from the raw text).
std::string canonical_uri(std::string_view path) {
  if (path.empty()) return "/";
  std::string out;
  std::size_t from = 0;
  while (from <= path.size()) {
    auto slash = path.find('/', from);
    auto segment = path.substr(from, slash == std::string_view::npos ? slash : slash - from);
    out += providers::uri_encode(segment);
    if (slash == std::string_view::npos) break;
    out += '/';
    from = slash + 1;
  }
  return out;
}

// Query parameters sorted by name (then value), each as sent.
std::string canonical_query(std::string_view query) {
  if (query.empty()) return {};
  std::vector<std::string> params;
  std::size_t from = 0;
  while (from <= query.size()) {
    auto amp = query.find('&', from);
    auto p = std::string(query.substr(from, amp == std::string_view::npos ? amp : amp - from));
    if (p.find('=') == std::string::npos) p += '=';
    if (!p.empty()) params.push_back(std::move(p));
    if (amp == std::string_view::npos) break;
    from = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : "&") + p;
  return out;
}

struct canonical_headers {
  std::string lines;    // name:value\n...
  std::string signed_;  // name;name
};

canonical_headers canonicalize(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> h;
  for (const auto& [name, value] : headers) h.emplace_back(lower(name), trim_value(value));
  std::sort(h.begin(), h.end());
  canonical_headers c;
  for (const auto& [name, value] : h) {
    c.lines += name + ":" + value + "\n";
    c.signed_ += (c.signed_.empty() ? "" : ";") + name;
  }
  return c;
}

void put_u32(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v >> 24);
  out += static_cast<char>(v >> 16);
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v);
}

std::uint32_t get_u32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i]));
  };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// The event stream's header value types and their fixed sizes (-1: 2-byte length).
int value_size(unsigned char type) {
  switch (type) {
    case 0:  // true
    case 1:  // false
      return 0;
    case 2:
      return 1;
    case 3:
      return 2;
    case 4:
      return 4;
    case 5:  // int64
    case 8:  // timestamp
      return 8;
    case 9:  // uuid
      return 16;
    case 6:  // bytes
    case 7:  // string
      return -1;
    default:
      return -2;
  }
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return core::to_hex(out, len);
}

std::string canonical_request(const signing_input& in) {
  auto h = canonicalize(in.headers);
  return in.method + "\n" + canonical_uri(in.path) + "\n" + canonical_query(in.query) + "\n" +
         h.lines + "\n" + h.signed_ + "\n" + sha256_hex(in.payload);
}

std::string authorization(const signing_input& in) {
  auto date = in.amz_date.substr(0, 8);
  auto scope = date + "/" + in.region + "/" + in.service + "/aws4_request";
  auto to_sign =
      "AWS4-HMAC-SHA256\n" + in.amz_date + "\n" + scope + "\n" + sha256_hex(canonical_request(in));
  auto key = hmac_sha256("AWS4" + in.secret_key, date);
  key = hmac_sha256(key, in.region);
  key = hmac_sha256(key, in.service);
  key = hmac_sha256(key, "aws4_request");
  auto sig = hmac_sha256(key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + in.access_key + "/" + scope +
         ", SignedHeaders=" + canonicalize(in.headers).signed_ + ", Signature=" +
         core::to_hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

std::string amz_date_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string encode_event(const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view payload) {
  std::string h;
  for (const auto& [name, value] : headers) {
    h += static_cast<char>(name.size());
    h += name;
    h += static_cast<char>(7);  // string
    h += static_cast<char>(value.size() >> 8);
    h += static_cast<char>(value.size() & 0xFF);
    h += value;
  }
  std::string out;
  auto total = static_cast<std::uint32_t>(16 + h.size() + payload.size());
  put_u32(out, total);
  put_u32(out, static_cast<std::uint32_t>(h.size()));
  put_u32(out, crc32(out));
  out += h;
  out += payload;
  put_u32(out, crc32(out));
  return out;
}

std::optional<std::string> event_stream_decoder::feed(std::string_view bytes,
                                                      std::vector<event_message>& out) {
  if (broken_) return std::string("the stream broke earlier");
  buffer_.append(bytes);
  std::size_t at = 0;
  auto fail = [&](std::string why) {
    broken_ = true;
    return std::optional<std::string>(std::move(why));
  };
  while (buffer_.size() - at >= 12) {
    std::string_view frame(buffer_.data() + at, buffer_.size() - at);
    auto total = get_u32(frame, 0);
    auto headers_len = get_u32(frame, 4);
    if (crc32(frame.substr(0, 8)) != get_u32(frame, 8))
      return fail("a message prelude whose CRC does not match");
    if (total < 16 || headers_len > total - 16 || total > max_)
      return fail("a message of " + std::to_string(total) + " bytes with " +
                  std::to_string(headers_len) + " of headers");
    if (frame.size() < total) break;
    if (crc32(frame.substr(0, total - 4)) != get_u32(frame, total - 4))
      return fail("a message whose CRC does not match");
    event_message m;
    auto h = frame.substr(12, headers_len);
    std::size_t i = 0;
    while (i < h.size()) {
      auto name_len = static_cast<unsigned char>(h[i]);
      if (i + 1 + name_len + 1 > h.size()) return fail("a header cut short");
      std::string name(h.substr(i + 1, name_len));
      i += 1 + name_len;
      auto type = static_cast<unsigned char>(h[i++]);
      auto size = value_size(type);
      if (size == -2) return fail("a header of unknown type " + std::to_string(type));
      if (size == -1) {
        if (i + 2 > h.size()) return fail("a header cut short");
        size = static_cast<unsigned char>(h[i]) << 8 | static_cast<unsigned char>(h[i + 1]);
        i += 2;
      }
      if (i + static_cast<std::size_t>(size) > h.size()) return fail("a header cut short");
      if (type == 7) m.headers[name] = std::string(h.substr(i, static_cast<std::size_t>(size)));
      i += static_cast<std::size_t>(size);
    }
    m.payload = std::string(frame.substr(12 + headers_len, total - 16 - headers_len));
    out.push_back(std::move(m));
    at += total;
  }
  buffer_.erase(0, at);
  return std::nullopt;
}

}  // namespace askd::providers::aws
