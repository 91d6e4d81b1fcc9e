// core/json.hpp — reading JSON objects field by field with errors that name the
// field, what was expected and what was found; and writing JSON text fast.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace askd::core::json {

// A field had the wrong type or value. `path` is like `messages[2].role`.
struct field_error : std::runtime_error {
  field_error(std::string path, std::string expected, std::string got);
  std::string path;
  std::string expected;
  std::string got;
};

// The text is not JSON at all.
struct syntax_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How deep any JSON askd reads may nest. askd's own shapes need under ten levels; a
// limit keeps a hostile body from costing more than its bytes (RapidJSON's recursive
// parser overflowed the stack at ~150,000 levels).
inline constexpr int max_depth = 64;

// Whether `text`'s arrays and objects nest deeper than `limit` (strings skipped, so a
// bracket inside one does not count). Linear, no allocation; for text not yet parsed.
bool nests_deeper_than(std::string_view text, int limit);

// Every JSON text askd reads goes through one of the parses below: RapidJSON's
// iterative parser (no recursion) behind the depth limit, never a bare Parse().
// False on any error (syntax, depth; encoding too with kParseValidateEncodingFlag in
// `flags`), with `doc` unusable.
template <unsigned flags = 0, class Document>
bool try_parse(std::string_view text, Document& doc) {
  if (nests_deeper_than(text, max_depth)) return false;
  doc.template Parse<rapidjson::kParseIterativeFlag | flags>(text.data(), text.size());
  return !doc.HasParseError();
}

// Parses `text` into `doc`; throws syntax_error naming the offset and the problem.
void parse(std::string_view text, rapidjson::Document& doc);

// A small JSON text (one streamed event) parsed without the heap: the values and the
// parser's stack live in buffers inside this object (put it on the stack) and spill to
// the heap only past them. rapidjson::Document takes a 64 KB block and frees it again
// for every event.
class small_document {
 public:
  using allocator = rapidjson::MemoryPoolAllocator<>;
  using document = rapidjson::GenericDocument<rapidjson::UTF8<>, allocator, allocator>;

  // Each buffer holds its allocator's chunk header too, so the parser's stack starts at
  // half of its buffer (room to grow in place); past a buffer, 4 KB blocks from the heap.
  small_document()
      : values_(value_buffer_, sizeof value_buffer_, spill_bytes),
        stack_(stack_buffer_, sizeof stack_buffer_, spill_bytes),
        doc_(&values_, sizeof stack_buffer_ / 2, &stack_) {}
  small_document(const small_document&) = delete;
  small_document& operator=(const small_document&) = delete;

  // False when `text` is not JSON within max_depth; the document is then unusable.
  bool parse(std::string_view text) { return try_parse(text, doc_); }
  document& doc() { return doc_; }

  // Whether parsing needed memory beyond the buffers (a block from the heap).
  bool spilled() const {
    return values_.Capacity() > sizeof value_buffer_ || stack_.Capacity() > sizeof stack_buffer_;
  }

 private:
  static constexpr std::size_t spill_bytes = 4096;
  char value_buffer_[4096];
  char stack_buffer_[2048];
  allocator values_;
  allocator stack_;
  document doc_;
};

// "a string", "a number", "an object", ... — for error messages.
std::string describe(const rapidjson::Value& v);

// Reads the fields of one object; every getter throws field_error on a wrong type.
class object_reader {
 public:
  // Throws field_error when `v` is not an object.
  object_reader(const rapidjson::Value& v, std::string path);

  bool has(const char* key) const;
  std::string path_of(std::string_view key) const;
  const rapidjson::Value& value() const { return *v_; }

  std::optional<std::string> string(const char* key) const;
  std::string string_or(const char* key, std::string fallback) const;
  std::string required_string(const char* key) const;
  std::optional<bool> boolean(const char* key) const;
  // An integer within [min, max].
  std::optional<std::int64_t> integer(const char* key, std::int64_t min, std::int64_t max) const;
  std::optional<double> number(const char* key) const;
  // nullptr when absent (or null); throws when present with another type.
  const rapidjson::Value* array(const char* key) const;
  const rapidjson::Value* object(const char* key) const;

 private:
  const rapidjson::Value* find(const char* key) const;
  const rapidjson::Value* v_;
  std::string path_;
};

// Appends `text` as the inside of a JSON string (no quotes), escaping as RFC 8259 asks.
void append_escaped(std::string& out, std::string_view text);
// `text` as a quoted JSON string.
std::string quote(std::string_view text);
// Serialises a value compactly.
std::string write(const rapidjson::Value& v);
// A non-negative decimal integer written alone ("42"); nullopt for anything else.
std::optional<std::uint64_t> parse_count(std::string_view text);
// A number as people write it: 0.5, 20, 1e+06.
std::string format_number(double v);

}  // namespace askd::core::json
