// rag/chunker.hpp — files cut into chunks near deepwiki-open's size (about `words`
// words, `overlap` words shared with the previous chunk), each cut placed where the
// code allows: a Markdown heading, a blank line outside braces, a line closing a block.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rag/chunk.hpp"

namespace askd::rag {

std::vector<context_chunk> chunk_file(const std::string& path, std::string_view text, int words,
                                      int overlap);

}  // namespace askd::rag
