// rag/lexical_index.hpp — the lexical index: BM25 over chunks with code-aware terms
// (identifiers kept whole and split at snake_case and camelCase boundaries; each chunk's
// path components count as terms of the chunk), stored with Xapian on disk. A build is
// written under a temporary name and renamed into place only when complete, so a build
// killed halfway is never opened; a finished index reopens in milliseconds.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rag/chunk.hpp"

namespace Xapian {
class Database;
class WritableDatabase;
}  // namespace Xapian

namespace askd::rag {

// "parseHTTPRequest_v2 x" → parsehttprequest_v2, parse, http, request, v2 (lower case;
// single letters dropped).
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
  // Flushes and renames into place. If another writer finished `dir` first, keeps theirs.
  void commit();

 private:
  std::string dir_, tmp_;
  std::unique_ptr<Xapian::WritableDatabase> db_;
  bool committed_ = false;
};

class lexical_index {
 public:
  // Opens a committed index; throws std::runtime_error when there is none at `dir`.
  explicit lexical_index(const std::string& dir);
  ~lexical_index();

  // The best `k` chunks for `query`, best first, scores filled in. Thread-safe.
  std::vector<context_chunk> search(std::string_view query, std::size_t k) const;
  std::string metadata(const std::string& key) const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;  // a Xapian::Database is not safe for concurrent use
  std::unique_ptr<Xapian::Database> db_;
};

}  // namespace askd::rag
