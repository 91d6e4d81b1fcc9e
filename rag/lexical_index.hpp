// rag/lexical_index.hpp — the lexical index: BM25 over chunks with code-aware terms
// (identifiers kept whole and split at snake_case and camelCase boundaries; each chunk's
// path components count as terms of the chunk). One file per index, written under a
// temporary directory renamed into place only when complete (a build killed halfway is
// never opened), and memory-mapped to read: reopening costs an mmap, not a load.
//
// Why not Xapian: bench/RESULTS.md measured it building 6-9x slower than SQLite FTS5 on
// /usr/include/boost; this format builds faster than FTS5 and queries faster than both.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rag/chunk.hpp"

namespace askd::rag {

// Calls `fn` with each term of `text`, lower case: every identifier of 2+ characters
// whole, and its parts when it has several ("parseHTTPRequest_v2" → parsehttprequest_v2,
// parse, http, request, v2). The view is valid only during the call.
void for_each_term(std::string_view text, const std::function<void(std::string_view)>& fn);
std::vector<std::string> code_terms(std::string_view text);
// The terms of a question worth searching for: code_terms without stop words, unique.
std::vector<std::string> query_terms(std::string_view question);

class index_writer {
 public:
  // Builds in a temporary directory next to `dir`; nothing appears at `dir` before
  // commit(). With several shards, each is written to its own file and may be fed and
  // finished from its own thread (the caller's: rag starts none); the reader combines
  // them with index-wide statistics, so ranking does not depend on the shard count.
  explicit index_writer(std::string dir, std::size_t shards = 1);
  ~index_writer();  // without commit(): the temporary directory is removed
  index_writer(const index_writer&) = delete;
  index_writer& operator=(const index_writer&) = delete;

  std::size_t shards() const { return shards_.size(); }
  void add(const context_chunk& chunk, std::size_t shard = 0);
  // Writes one shard's file. Safe to call for different shards at the same time.
  void finish_shard(std::size_t shard);
  void set_metadata(const std::string& key, const std::string& value);
  // Finishes what is not finished, then renames the directory into place. If another
  // writer finished `dir` first, keeps theirs.
  void commit();

  class shard;

 private:
  std::string dir_, tmp_;
  bool committed_ = false;
  std::vector<std::unique_ptr<shard>> shards_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

class lexical_index {
 public:
  // Maps a committed index; throws std::runtime_error when there is none at `dir` or it
  // is not a complete index file.
  explicit lexical_index(const std::string& dir);
  ~lexical_index();
  lexical_index(const lexical_index&) = delete;
  lexical_index& operator=(const lexical_index&) = delete;

  // The best `k` chunks for `query`, best first, scores filled in. Thread-safe.
  std::vector<context_chunk> search(std::string_view query, std::size_t k) const;
  std::string metadata(const std::string& key) const;
  std::size_t size() const;
  // Chunk number `i` (0 to size() - 1: the chunks of every shard, in shard order).
  context_chunk chunk(std::size_t i) const;

  struct layout;

 private:
  std::vector<std::unique_ptr<layout>> shards_;
  double total_chunks_ = 0;
  double avg_length_ = 1;  // over every shard
};

}  // namespace askd::rag
