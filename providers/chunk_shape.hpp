// providers/chunk_shape.hpp — the bytes a streamed JSON chunk shares with the ones before.
// A model's stream repeats one chunk around each new piece of text: the same id, model and
// nesting, and at most one string that changes every time (OpenAI's "obfuscation", random
// characters that pad each chunk). Chunks read whole teach that shape; a chunk with the
// same bytes around its text and that string, each free of quotes, escapes and control
// bytes, then reads as they did with its own text. A JSON reader's state after a string's
// closing quote does not depend on what the string held, and the decoder reads no string
// but the text's; nothing checks the strings' UTF-8 either (core/json.hpp: a reader that
// did would need the holes checked too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace askd::providers {

class chunk_shape {
 public:
  // `raw` was read whole and said nothing but its text, raw[at, at + n), which stands
  // there unescaped. Learns raw as the shape; or, when raw differs from the shape learned
  // before in one other string value only, that value as a second hole.
  void learn(std::string_view raw, std::size_t at, std::size_t n);

  // The text of `raw` when it has the learned shape; nullopt to read it whole.
  std::optional<std::string_view> match(std::string_view raw);

 private:
  // What a stream may pin: a chunk's bytes around its text past this are not kept.
  static constexpr std::size_t max_bytes = 4096;
  // Chunks that differ each time in more than one string are read whole: after this many
  // misses in a row the shape is neither learned nor tried again.
  static constexpr std::uint8_t give_up_after = 4;

  std::string bytes_;               // the shape without its holes: empty until learned
  std::uint16_t holes_at_[2] = {};  // where in bytes_ each hole comes
  std::uint8_t holes_ = 0;          // 1: the text; 2: the text and one other string
  std::uint8_t text_hole_ = 0;      // which of them is the text
  std::uint8_t misses_ = 0;
};

}  // namespace askd::providers
