// providers/chunk_shape.hpp — the bytes a streamed JSON chunk shares with the one before.
// A model's stream repeats one chunk around each new piece of text: the same id, created
// time, model and nesting (OpenAI's {"id":...,"choices":[{"index":0,"delta":{"content":"
// ... "},"finish_reason":null}]}). After a chunk read whole says nothing but its text,
// found unescaped at raw[at, at + n), the bytes before and after that text are its shape.
// A later chunk of the same bytes around a span with no '"', '\' or control character
// reads as that chunk did, with the span as its text: a JSON reader's state after the
// string's closing quote does not depend on what the string held, so the same bytes after
// it read the same. The decoder reads such a chunk without its JSON reader (a third of a
// delta's instructions), and every other chunk whole, as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace askd::providers {

class chunk_shape {
 public:
  // `raw` was read whole and said only that its text is raw[at, at + n). Kept as the shape
  // when that text stands in raw unescaped, closing quote included.
  void learn(std::string_view raw, std::size_t at, std::size_t n);

  // The text of `raw` when it has the learned shape; nullopt to read it whole.
  std::optional<std::string_view> text_of(std::string_view raw);

 private:
  // Chunks that differ around their text each time (a per-chunk nonce, a timestamp) are
  // read whole: after this many such misses in a row the shape is neither learned nor
  // tried again.
  static constexpr std::uint8_t give_up_after = 4;

  std::string bytes_;         // what comes before the text, then what comes after it
  std::uint32_t before_ = 0;  // the length of the first part
  bool learned_ = false;
  std::uint8_t misses_ = 0;
};

}  // namespace askd::providers
