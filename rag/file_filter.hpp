// rag/file_filter.hpp — which files of a repository are read: conf/repo.json's defaults
// with the request's excluded_*/included_* on top (inclusion mode replaces exclusions,
// as deepwiki-open does), plus .gitignore. Fixes deepwiki-open's bugs: globs such as
// `*.min.js` match, and directory rules match components of the path relative to the
// repository root (never of the absolute path).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/chat_request.hpp"
#include "core/config.hpp"

namespace askd::rag {

// "a, b\nc" → {"a", "b", "c"}: newline- or comma-separated, trimmed, empties dropped
// (core validates a request's lists with the same function).
using core::split_list;

// Bounds on what a repository's .gitignore files may cost: every path is matched
// against every rule that applies to it, and a repository is untrusted input. Real
// .gitignore files are a few KiB of short lines.
inline constexpr std::size_t max_gitignore_bytes = 256 << 10;  // read per file; the rest is ignored
inline constexpr std::size_t max_gitignore_line = 512;         // a longer line is skipped
inline constexpr std::size_t max_gitignore_rules = 4096;       // per repository; later ones dropped

class file_filter {
 public:
  file_filter(const core::repo_settings& settings, const core::chat_request& request);

  // `rel_dir` is relative to the repository root, '/'-separated, without a trailing '/'.
  bool skip_dir(std::string_view rel_dir) const;
  // `rel_path` is relative to the repository root; its directories were not skipped.
  bool keep_file(std::string_view rel_path) const;
  // The same, when the caller knows whether one of the file's directories is one of
  // included_dirs (includes_dir, asked once per directory while walking down).
  bool keep_file(std::string_view rel_path, bool in_included_dir) const;
  // Whether `rel_dir` itself matches one of included_dirs: all files under it are kept.
  bool includes_dir(std::string_view rel_dir) const;
  bool inclusion_mode() const { return inclusion_; }
  // A stable text of the rules, for the index key.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  std::vector<std::string> excluded_dirs_, excluded_files_, included_dirs_, included_files_;
  std::vector<std::string> extensions_;
  bool inclusion_ = false;
  std::string fingerprint_;
};

// The .gitignore files met while walking a repository; later rules win, `!` re-includes.
class gitignore {
 public:
  // Adds the rules of the .gitignore found in `rel_dir` ("" for the root). Lines longer
  // than max_gitignore_line and rules past max_gitignore_rules are dropped (counted).
  void add(std::string_view rel_dir, std::string_view text);
  bool ignored(std::string_view rel_path, bool is_dir) const;
  std::size_t dropped() const { return dropped_; }

 private:
  struct rule {
    std::string base;     // the directory of the .gitignore
    std::string pattern;  // without '!' and trailing '/'
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // contains a '/' before its end: matched from `base`
  };
  std::vector<rule> rules_;
  std::size_t dropped_ = 0;
};

}  // namespace askd::rag
