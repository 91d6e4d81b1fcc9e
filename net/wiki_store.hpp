// net/wiki_store.hpp — deepwiki-open's server-side wiki cache (GET/POST/DELETE
// /api/wiki_cache, GET /api/processed_projects): one JSON file per repository, type and
// language under <data_dir>/wikicache, named as deepwiki-open names them
// ("deepwiki_cache_{type}_{owner}_{repo}_{language}.json") with every character outside
// [A-Za-z0-9.-] percent-encoded, so no name can leave the directory and the parts read
// back unambiguously. Bounded: entries and bytes (wiki_cache in askd.json); past either
// the least recently written entries go. Blocking file I/O: not for an io thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace askd::net {

struct wiki_key {
  std::string type, owner, repo, language;
};

// Why `k` cannot name an entry ("" when it can): each part present, at most 200 bytes,
// no control characters, and a file name within NAME_MAX.
std::string wiki_key_problem(const wiki_key& k);
std::string wiki_file_name(const wiki_key& k);
std::optional<wiki_key> parse_wiki_file_name(std::string_view name);

struct wiki_entry_info {
  wiki_key key;
  std::string file;           // its file name
  std::int64_t written_ms = 0;  // modification time, ms since the epoch
  std::uint64_t bytes = 0;
};

class wiki_store {
 public:
  wiki_store(std::string dir, std::size_t max_entries, std::uint64_t max_bytes);

  // The stored JSON, or nullopt when there is none.
  std::optional<std::string> get(const wiki_key& k) const;
  // Writes the entry whole or not at all, then removes the least recently written
  // entries while over a bound. Throws std::runtime_error when the disk refuses.
  void put(const wiki_key& k, const std::string& json);
  // False when there was no such entry.
  bool remove(const wiki_key& k);
  // Every entry, most recently written first.
  std::vector<wiki_entry_info> list() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::size_t max_entries_;
  std::uint64_t max_bytes_;
  mutable std::mutex mu_;  // one writer at a time: put's eviction sees a whole directory
};

}  // namespace askd::net
