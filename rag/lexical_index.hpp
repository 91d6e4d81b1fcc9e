// rag/lexical_index.hpp — BM25 over chunks with code-aware terms: identifiers are kept
// whole and also split at snake_case and camelCase boundaries, and each chunk's path
// components count as terms of the chunk. In memory; built once, then read-only (safe
// to search from many threads).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rag/chunk.hpp"

namespace askd::rag {

// "parseHTTPRequest_v2 x" → parsehttprequest_v2, parse, http, request, v2 (lower case;
// single letters dropped).
std::vector<std::string> code_terms(std::string_view text);

// The terms of a question worth searching for: code_terms without stop words, unique.
std::vector<std::string> query_terms(std::string_view question);

class lexical_index {
 public:
  void add(context_chunk chunk);
  // Call once after the last add(), before searching.
  void finish();

  // The best `k` chunks for `query`, best first, scores filled in.
  std::vector<context_chunk> search(std::string_view query, std::size_t k) const;

  std::size_t size() const { return chunks_.size(); }
  std::size_t terms() const { return postings_.size(); }
  std::size_t memory_bytes() const;

 private:
  struct posting {
    std::uint32_t chunk;
    std::uint32_t tf;
  };
  std::vector<context_chunk> chunks_;
  std::vector<std::uint32_t> length_;
  std::unordered_map<std::string, std::vector<posting>> postings_;
  double avg_length_ = 1;
};

}  // namespace askd::rag
