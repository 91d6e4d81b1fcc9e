// core/json.hpp — reading JSON objects field by field with errors that name the
// field, what was expected and what was found; and writing JSON text fast.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

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

// How a parse ended: RapidJSON's error code and offset, and whether it stopped at the
// depth limit (then the code is kParseErrorTermination).
struct parse_outcome {
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  std::size_t offset = 0;
  bool too_deep = false;
  explicit operator bool() const { return code == rapidjson::kParseErrorNone; }
};

// RapidJSON's handler events passed on to `inner`, refused past max_depth levels of
// arrays and objects: the depth limit counted inside the one parse.
template <class Inner>
struct depth_limited {
  Inner& inner;
  int depth = 0;
  bool too_deep = false;

  bool Null() { return inner.Null(); }
  bool Bool(bool b) { return inner.Bool(b); }
  bool Int(int i) { return inner.Int(i); }
  bool Uint(unsigned u) { return inner.Uint(u); }
  bool Int64(std::int64_t i) { return inner.Int64(i); }
  bool Uint64(std::uint64_t u) { return inner.Uint64(u); }
  bool Double(double d) { return inner.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return inner.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return inner.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return inner.Key(s, n, copy); }
  bool StartObject() { return enter() && inner.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return --depth, inner.EndObject(n); }
  bool StartArray() { return enter() && inner.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return --depth, inner.EndArray(n); }

 private:
  bool enter() {
    if (++depth <= max_depth) return true;
    too_deep = true;
    return false;
  }
};

// Whether every byte of `text` is ASCII (8 at a time): such text needs no UTF-8 check.
bool is_ascii(std::string_view text);

namespace detail {
// RapidJSON's reader over `in`, its events to `handler` through the depth limit. The
// recursive reader: it recurses once per array or object, and depth_limited refuses the
// 65th level before the reader recurses into it, so the recursion is bounded (a bare
// recursive parse overflowed the stack at ~150,000 levels); it takes ~15% fewer
// instructions than the iterative one. The reader's stack (strings are copied through it
// unless parsed in place) starts in a buffer here and spills to the heap only for long
// strings.
template <unsigned flags, class Stream, class Handler>
parse_outcome run_reader(Stream& in, Handler& handler) {
  using pool = rapidjson::MemoryPoolAllocator<>;
  char buffer[1024];
  pool stack(buffer, sizeof buffer, 4096);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, pool> reader(&stack, 256);
  depth_limited<Handler> limited{handler};
  auto r = reader.template Parse<flags>(in, limited);
  return {r.Code(), r.Offset(), limited.too_deep};
}
}  // namespace detail

// Every JSON text askd reads goes through read_events (or read_events_in_place): its
// events handed to `handler` (RapidJSON's Handler concept) within the depth limit.
template <unsigned flags = 0, class Handler>
parse_outcome read_events(std::string_view text, Handler& handler) {
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
  return detail::run_reader<flags>(in, handler);
}

// The same over text the reader may change: RapidJSON's in-place mode decodes each string
// where it is instead of copying it through the reader's stack, about half the
// instructions for a streamed chunk. The strings handed to `handler` point into `text`,
// which is garbage afterwards. A NUL byte ends the text, as it does for read_events
// (RapidJSON's streams say '\0' at their end). Strings' UTF-8 is not checked: the OpenAI
// decoder's chunk shapes (providers/chunk_shape.hpp) take text from a chunk without this
// reader on that ground, and would need to check it too if this did.
template <class Handler>
parse_outcome read_events_in_place(std::string& text, Handler& handler) {
  // RapidJSON's UTF-8 memory stream skips a byte order mark's bytes, each if present
  // (EncodedInputStream<UTF8<>, MemoryStream>): so does this, to read every text alike.
  char* start = text.data();
  for (unsigned char mark : {0xEF, 0xBB, 0xBF})
    if (static_cast<unsigned char>(*start) == mark) ++start;
  rapidjson::InsituStringStream in(start);  // a std::string ends in '\0'
  return detail::run_reader<rapidjson::kParseInsituFlag>(in, handler);
}

// A whole document parsed by read_events. On an error `doc` is unusable, and says nothing
// of the error (GetParseError() is not set): the outcome does.
template <unsigned flags = 0, class Document>
parse_outcome parse_into(std::string_view text, Document& doc) {
  parse_outcome outcome;
  auto generate = [&](Document& d) { return bool(outcome = read_events<flags>(text, d)); };
  doc.Populate(generate);
  return outcome;
}

// False on any error (syntax, depth; encoding too with kParseValidateEncodingFlag in
// `flags`), with `doc` unusable.
template <unsigned flags = 0, class Document>
bool try_parse(std::string_view text, Document& doc) {
  return bool(parse_into<flags>(text, doc));
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

// A string as an error message shows it: quoted, cut after 40 bytes (at a UTF-8
// boundary) with "..." after it, so a refusal never echoes a huge field back.
std::string shown(std::string_view text);

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

// How many bytes from `text`'s start stand inside a JSON string as themselves: up to its
// first quote, backslash or control byte (all of `text` when it has none).
std::size_t unescaped_run(std::string_view text);
// Appends `text` as the inside of a JSON string (no quotes), escaping as RFC 8259 asks.
void append_escaped(std::string& out, std::string_view text);
// Appends `text` as a quoted JSON string.
void append_quoted(std::string& out, std::string_view text);
// `text` as a quoted JSON string.
std::string quote(std::string_view text);
// Serialises a value compactly.
std::string write(const rapidjson::Value& v);
// A non-negative decimal integer written alone ("42"); nullopt for anything else.
std::optional<std::uint64_t> parse_count(std::string_view text);
// A number as people write it: 0.5, 20, 1e+06.
std::string format_number(double v);

}  // namespace askd::core::json
