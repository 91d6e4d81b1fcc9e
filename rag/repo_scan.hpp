// rag/repo_scan.hpp — the files of a repository that are worth reading: walked in a
// stable order, pruned by file_filter and .gitignore, and without binary, oversized or
// non-UTF-8 files (each kind counted, so a surprising index can be explained).
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "rag/file_filter.hpp"

namespace askd::rag {

struct source_file {
  std::string path;  // relative, '/'-separated
  std::string text;
};

struct scan_stats {
  std::size_t files = 0;
  std::size_t bytes = 0;
  std::size_t filtered = 0;  // by extension or excluded_*/included_* rules
  std::size_t ignored = 0;   // by .gitignore
  std::size_t binary = 0;
  std::size_t too_large = 0;
  std::size_t not_utf8 = 0;
  bool truncated = false;  // stopped at max_files
};

struct scan_result {
  std::vector<source_file> files;
  scan_stats stats;
};

// Throws std::runtime_error when `root` cannot be read. Stops early (empty result) when
// `cancel` becomes true.
scan_result scan_repo(const std::filesystem::path& root, const file_filter& filter,
                      const core::repo_settings& settings,
                      const std::atomic<bool>* cancel = nullptr);

// A fingerprint of the files scan_repo would read (paths, sizes, modification times),
// found with stat calls only: when it changes, the index must be rebuilt.
std::string tree_stamp(const std::filesystem::path& root, const file_filter& filter,
                       const core::repo_settings& settings);

bool is_valid_utf8(std::string_view s);

// A file's whole content, as bytes ("" when it cannot be read).
std::string read_file_bytes(const std::filesystem::path& p);

// The total size of the regular files under `dir` (0 when it cannot be read).
std::uint64_t dir_bytes(const std::filesystem::path& dir);

}  // namespace askd::rag
