#include "core/json.hpp"

#include <bit>
#include <cstring>
#include <sstream>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/text.hpp"

namespace askd::core::json {

field_error::field_error(std::string p, std::string e, std::string g)
    : std::runtime_error(p + ": expected " + e + ", got " + g),
      path(std::move(p)),
      expected(std::move(e)),
      got(std::move(g)) {}

bool is_ascii(std::string_view text) {
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    if (word & 0x8080808080808080ull) return false;
  }
  for (; i < text.size(); ++i)
    if (static_cast<unsigned char>(text[i]) & 0x80) return false;
  return true;
}

void parse(std::string_view text, rapidjson::Document& doc) {
  // Only text with bytes past ASCII can hold bad UTF-8: the rest skips the check.
  auto outcome = is_ascii(text) ? parse_into(text, doc)
                                : parse_into<rapidjson::kParseValidateEncodingFlag>(text, doc);
  if (outcome.too_deep)
    throw syntax_error("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  if (!outcome)
    throw syntax_error("invalid JSON at offset " + std::to_string(outcome.offset) + ": " +
                       rapidjson::GetParseError_En(outcome.code));
}

std::string shown(std::string_view s) {
  if (s.size() <= 40) return quote(s);
  return quote(s.substr(0, utf8_cut(s, 40))) + "...";
}

std::string describe(const rapidjson::Value& v) {
  // Scalars are shown as written (strings cut short), so an error says what was found.
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
      return "false";
    case rapidjson::kTrueType:
      return "true";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return shown(std::string_view(v.GetString(), v.GetStringLength()));
    case rapidjson::kNumberType:
      return write(v);
  }
  return "something else";
}

object_reader::object_reader(const rapidjson::Value& v, std::string path)
    : v_(&v), path_(std::move(path)) {
  if (!v.IsObject()) throw field_error(path_.empty() ? "(body)" : path_, "an object", describe(v));
}

std::string object_reader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const rapidjson::Value* object_reader::find(const char* key) const {
  auto it = v_->FindMember(key);
  if (it == v_->MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

bool object_reader::has(const char* key) const {
  return find(key) != nullptr;
}

std::optional<std::string> object_reader::string(const char* key) const {
  const auto* f = find(key);
  if (!f) return std::nullopt;
  if (!f->IsString()) throw field_error(path_of(key), "a string", describe(*f));
  return std::string(f->GetString(), f->GetStringLength());
}

std::string object_reader::string_or(const char* key, std::string fallback) const {
  auto s = string(key);
  return s ? std::move(*s) : std::move(fallback);
}

std::string object_reader::required_string(const char* key) const {
  auto s = string(key);
  if (!s) throw field_error(path_of(key), "a string", "nothing (the field is required)");
  return std::move(*s);
}

std::optional<bool> object_reader::boolean(const char* key) const {
  const auto* f = find(key);
  if (!f) return std::nullopt;
  if (!f->IsBool()) throw field_error(path_of(key), "a boolean", describe(*f));
  return f->GetBool();
}

std::optional<std::int64_t> object_reader::integer(const char* key, std::int64_t min,
                                                   std::int64_t max) const {
  const auto* f = find(key);
  if (!f) return std::nullopt;
  auto range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!f->IsInt64()) {
    if (f->IsNumber()) throw field_error(path_of(key), range, std::to_string(f->GetDouble()));
    throw field_error(path_of(key), range, describe(*f));
  }
  auto n = f->GetInt64();
  if (n < min || n > max) throw field_error(path_of(key), range, std::to_string(n));
  return n;
}

std::optional<double> object_reader::number(const char* key) const {
  const auto* f = find(key);
  if (!f) return std::nullopt;
  if (!f->IsNumber()) throw field_error(path_of(key), "a number", describe(*f));
  return f->GetDouble();
}

const rapidjson::Value* object_reader::array(const char* key) const {
  const auto* f = find(key);
  if (f && !f->IsArray()) throw field_error(path_of(key), "an array", describe(*f));
  return f;
}

const rapidjson::Value* object_reader::object(const char* key) const {
  const auto* f = find(key);
  if (f && !f->IsObject()) throw field_error(path_of(key), "an object", describe(*f));
  return f;
}

std::size_t unescaped_run(std::string_view text) {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  const char* p = text.data();
  std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    if (i + 16 <= n) {
      // Sixteen bytes at a time (SSE2 is in every x86-64): control bytes are those whose
      // unsigned maximum with 0x1f is 0x1f.
      auto v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      auto below = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
      auto quotes = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
      auto backslashes = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
      auto mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_or_si128(below, _mm_or_si128(quotes, backslashes))));
      if (!mask) {
        i += 16;
        continue;
      }
      return i + static_cast<std::size_t>(std::countr_zero(mask));
    }
#endif
    if (std::endian::native == std::endian::little && i + 8 <= n) {
      // Eight bytes at a time. A byte's high bit is set in `special` when it is a control
      // byte (subtracting 0x20 borrows into its high bit and its own was clear) or a quote
      // or backslash (zero after the XOR). A borrow runs only upward, so the lowest byte
      // marked is always one that needs escaping.
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      auto q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
      auto special = (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
      if (!special) {
        i += 8;
        continue;
      }
      return i + static_cast<std::size_t>(std::countr_zero(special)) / 8;
    }
    if (auto c = static_cast<unsigned char>(p[i]); c < 0x20 || c == '"' || c == '\\') return i;
    ++i;
  }
  return n;
}

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 8);
  for (;;) {
    auto run = unescaped_run(text);
    out.append(text.data(), run);
    if (run == text.size()) return;
    auto c = static_cast<unsigned char>(text[run]);
    text.remove_prefix(run + 1);
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    std::size_t len = 2;
    switch (c) {
      case '"':
        esc[1] = '"';
        break;
      case '\\':
        esc[1] = '\\';
        break;
      case '\n':
        esc[1] = 'n';
        break;
      case '\r':
        esc[1] = 'r';
        break;
      case '\t':
        esc[1] = 't';
        break;
      case '\b':
        esc[1] = 'b';
        break;
      case '\f':
        esc[1] = 'f';
        break;
      default:
        esc[1] = 'u';
        esc[2] = esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xf];
        len = 6;
    }
    out.append(esc, len);
  }
}

void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  append_escaped(out, text);
  out += '"';
}

std::string quote(std::string_view text) {
  std::string out;
  append_quoted(out, text);
  return out;
}

std::string write(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string format_number(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

}  // namespace askd::core::json
