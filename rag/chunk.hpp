// rag/chunk.hpp — one retrieved piece of a repository: a line range of one file.
#pragma once

#include <string>

namespace askd::rag {

struct context_chunk {
  std::string path;    // relative to the repository root, '/'-separated
  int start_line = 0;  // 1-based, inclusive
  int end_line = 0;
  std::string text;
  double score = 0;  // retrieval score; 0 when not ranked
};

}  // namespace askd::rag
