// providers/chunk_shape.hpp — the bytes a streamed JSON chunk shares with the ones before.
// A model's stream repeats one chunk around each new piece of text: the same members and
// nesting, with string values that are the same (an id, a model) or differ every time
// (OpenAI's "obfuscation", random characters that pad each chunk). A chunk read whole
// that said nothing but its text teaches the shape: its bytes with a hole for each string
// value. A later chunk with the same bytes around its holes, each hole free of quotes,
// escapes and control bytes, then reads as that one did with its own text. A JSON
// reader's state after a string's closing quote does not depend on what the string held,
// and the decoder reads no value string but the text (a text-only chunk has no finish
// reason); nothing checks the strings' UTF-8 either (read_events_in_place: a reader that
// did would need the holes checked too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace askd::providers {

class chunk_shape {
 public:
  // `raw` was read whole and said nothing but its text, the string whose contents begin
  // at raw[at]: raw is the shape of the chunks to come. Called after match(raw) said to
  // read it whole.
  void learn(std::string_view raw, std::size_t at);

  // The text of `raw` when it has the learned shape; nullopt to read it whole.
  std::optional<std::string_view> match(std::string_view raw);

 private:
  // What a stream may pin: a larger chunk is not kept.
  static constexpr std::size_t max_bytes = 4096;
  // Holes, the text's included (seven others at most come before it): later values stay
  // in the shape's bytes as they are, and a chunk that differs there is a miss.
  static constexpr std::uint8_t max_holes = 8;
  // Chunks that differ each time outside their holes (a number, a member) are read
  // whole: after this many misses without a match between, the shape is neither learned
  // nor tried again. Escapes in a hole count as neither.
  static constexpr std::uint8_t give_up_after = 4;

  static_assert(max_bytes <= UINT16_MAX, "holes_at_ holds offsets into the bytes");

  std::string bytes_;                       // the shape without its holes' contents
  std::uint16_t holes_at_[max_holes] = {};  // where in bytes_ each hole comes
  std::uint8_t holes_ = 0;                  // 0: nothing learned
  std::uint8_t text_hole_ = 0;              // which hole is the text
  std::uint8_t misses_ = 0;
  // The last chunk matched up to an escape in a hole (a line break in the text): the
  // shape is kept as it is rather than learned from that chunk again (a scan and an
  // allocation each time), even though its bytes after the escape were not compared.
  bool escaped_ = false;
};

}  // namespace askd::providers
