// rag/repo_source.hpp — where a request's repository is, checked before any work: a
// local path must resolve (symlinks and ".." included) to a directory under one of the
// operator's allowed roots; anything else is refused with `forbidden`.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/chat_request.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "rag/file_filter.hpp"
#include "rag/lexical_index.hpp"
#include "rag/repo_scan.hpp"
#include "rag/vector_index.hpp"

namespace askd::rag {

struct repo_source {
  bool local = false;
  std::string path;      // canonical directory, for a local repository
  std::string url;       // for a remote one: https://host/owner/repo
  std::string type;      // github | gitlab | bitbucket
  std::string checkout;  // where a remote is cloned: <data_dir>/repos/<hash>
  // The index key: location, filter rules and, for a private repository, a hash of its
  // token, so an index built with a token is never served to a request without it. A
  // request without retrieval (mode "none") opens no index: its key has no rules.
  std::string key;
};

bool is_local_repo(const core::chat_request& request);

// Whether a relative path (a request's filePath) stays inside the directory it is
// relative to, judged on its text alone: not absolute, no ".." component.
bool is_inside_path(std::string_view rel);

// For a local repository: refuses paths outside local_roots (forbidden) and paths that
// are not directories (bad_request). Remote repositories get local = false.
core::result<repo_source> locate_repo(const core::chat_request& request, const core::config& cfg);

// An index of one repository, read-only once built.
struct repo_index {
  std::unique_ptr<lexical_index> index;
  // The chunks' vectors, by embedder key: read from disk or built on the first vector
  // search that needs them, under the lock (one build per index and embedder).
  mutable std::mutex vectors_mutex;
  mutable std::map<std::string, std::shared_ptr<const vector_index>> vectors;
  // When a build of an embedder key last failed, and why: searches soon after do not
  // embed the whole repository again to fail again.
  mutable std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::string>>
      vectors_failed;
  std::string dir;   // where it is on disk
  scan_stats stats;  // of the build (files and bytes only, when reopened)
  std::size_t chunks = 0;
  double build_ms = 0;
  bool reopened = false;  // found on disk from an earlier build: nothing was scanned
};

// The index of the repository at `path` under `index_root`: reopened when an index of
// the same key and the same files (tree_stamp) is there, else scanned, chunked, written
// and renamed into place. Throws std::runtime_error when the directory cannot be read;
// returns nullptr when cancelled.
// Runs every task, possibly at the same time, and returns when all are done. rag
// starts no threads: the caller decides how tasks run (nullptr: one after another).
using task_runner = std::function<void(std::vector<std::function<void()>>& tasks)>;

// Files indexed so far and in all, reported now and then while an index is built; called
// from the threads that build it, so it must be thread-safe.
using index_progress = std::function<void(std::size_t done, std::size_t total)>;

std::shared_ptr<const repo_index> build_repo_index(
    const std::string& path, const file_filter& filter, const core::repo_settings& settings,
    const std::string& index_root, const std::string& key,
    const std::atomic<bool>* cancel = nullptr, const task_runner* run = nullptr,
    std::size_t shards = 1, const index_progress& progress = {});

// A stable 64-bit FNV-1a hash as 16 hex digits (index directory names).
std::string stable_hash(std::string_view s);

// `rel` (a request's filePath) inside the repository at `root`: opened one name at a
// time without following a symlink, so it cannot leave the repository; refuses "..",
// links (even to inside), FIFOs and devices, and files past `max_bytes` (read bounded).
// Returns the file's text.
core::result<std::string> read_repo_file(const std::string& root, const std::string& rel,
                                         std::size_t max_bytes);

}  // namespace askd::rag
