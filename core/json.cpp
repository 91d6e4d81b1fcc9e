#include "core/json.hpp"

#include <sstream>

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

bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character, whatever it is
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

void parse(std::string_view text, rapidjson::Document& doc) {
  if (nests_deeper_than(text, max_depth))
    throw syntax_error("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  if (!try_parse<rapidjson::kParseValidateEncodingFlag>(text, doc)) {
    throw syntax_error("invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                       rapidjson::GetParseError_En(doc.GetParseError()));
  }
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
    case rapidjson::kStringType: {
      std::string_view s(v.GetString(), v.GetStringLength());
      if (s.size() <= 40) return quote(s);
      return quote(s.substr(0, utf8_cut(s, 40))) + "...";
    }
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

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 8);
  std::size_t run = 0;  // start of the current run of bytes that need no escaping
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(text.data() + run, text.size() - run);
}

std::string quote(std::string_view text) {
  std::string out;
  out += '"';
  append_escaped(out, text);
  out += '"';
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
