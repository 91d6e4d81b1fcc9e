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
#include <unordered_map>
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
  // Builds in a temporary directory next to `dir`; nothing appears at `dir` before commit().
  explicit index_writer(std::string dir);
  ~index_writer();  // without commit(): the temporary directory is removed
  index_writer(const index_writer&) = delete;
  index_writer& operator=(const index_writer&) = delete;

  void add(const context_chunk& chunk);
  void set_metadata(const std::string& key, const std::string& value);
  // Writes the file and renames the directory into place. If another writer finished
  // `dir` first, keeps theirs.
  void commit();

 private:
  struct chunk_entry {
    std::uint64_t off;
    std::uint32_t path_len, text_len, start_line, end_line;
  };
  std::uint32_t term_id(std::string_view term);
  void flush_blob();

  std::string dir_, tmp_;
  int fd_ = -1;
  std::uint64_t blob_start_ = 0;
  std::uint64_t blob_written_ = 0;
  bool committed_ = false;
  // The term dictionary: open addressing over (hash, id) slots; the terms' bytes live
  // in one arena. Cheaper than a node-based map for tens of millions of lookups.
  struct slot {
    std::uint32_t tag = 0;          // high bits of the term's hash
    std::uint32_t id_plus_one = 0;  // 0: empty
  };
  std::vector<slot> slots_ = std::vector<slot>(1 << 16);
  std::string arena_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> term_at_;  // id -> (arena offset, length)
  // Every (term, chunk, tf) in arrival order, grouped by term at commit (a counting
  // sort): one array instead of a growing vector per term.
  struct entry {
    std::uint32_t term, chunk, tf;
  };
  std::vector<entry> entries_;
  std::vector<std::uint64_t> last_entry_;  // by term: its latest entry, to bump tf
  std::vector<std::uint32_t> lengths_;          // terms per chunk
  std::vector<chunk_entry> chunks_;
  std::string blob_;  // each chunk's path then text, not yet written
  std::string term_buf_;
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

  struct layout;

 private:
  const void* map_ = nullptr;
  std::size_t bytes_ = 0;
  const layout* l_ = nullptr;
  std::unique_ptr<layout> owned_;
};

}  // namespace askd::rag
