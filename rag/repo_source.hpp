// rag/repo_source.hpp — where a request's repository is, checked before any work: a
// local path must resolve (symlinks and ".." included) to a directory under one of the
// operator's allowed roots; anything else is refused with `forbidden`.
#pragma once

#include <memory>
#include <string>

#include "core/chat_request.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "rag/file_filter.hpp"
#include "rag/lexical_index.hpp"
#include "rag/repo_scan.hpp"

namespace askd::rag {

struct repo_source {
  bool local = false;
  std::string path;  // canonical directory, for a local repository
  std::string key;   // the index key: location + filter rules
};

bool is_local_repo(const core::chat_request& request);

// For a local repository: refuses paths outside local_roots (forbidden) and paths that
// are not directories (bad_request). Remote repositories get local = false.
core::result<repo_source> locate_repo(const core::chat_request& request, const core::config& cfg);

// An index of one repository, read-only once built.
struct repo_index {
  lexical_index index;
  scan_stats stats;
  std::size_t chunks = 0;
  double build_ms = 0;
};

// Scans, chunks and indexes `path`. Throws std::runtime_error when the directory cannot
// be read; returns nullptr when cancelled.
std::shared_ptr<const repo_index> build_repo_index(const std::string& path,
                                                   const file_filter& filter,
                                                   const core::repo_settings& settings,
                                                   const std::atomic<bool>* cancel = nullptr);

// `rel` (a request's filePath) inside the repository at `root`; refuses paths that
// leave it. Returns the file's text.
core::result<std::string> read_repo_file(const std::string& root, const std::string& rel,
                                         std::size_t max_bytes);

}  // namespace askd::rag
