// rag/repo_scan.hpp — the files of a repository that are worth reading: walked in a
// stable order, pruned by file_filter and .gitignore, and without binary, oversized or
// non-UTF-8 files (each kind counted, so a surprising index can be explained).
//
// A repository is untrusted input: nothing inside it is followed through a symlink
// (every open is relative to an already open directory, with O_NOFOLLOW), only regular
// files are read (a FIFO or device is never opened for reading), and no read goes past
// its limit, whatever the file's size said before.
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
  std::size_t not_regular = 0;     // symlinks, FIFOs, sockets, devices: never read or followed
  std::size_t too_deep = 0;        // directories below max_scan_depth, not walked
  std::size_t ignore_cut = 0;      // .gitignore files read only up to max_gitignore_bytes
  std::size_t ignore_dropped = 0;  // .gitignore rules dropped (too long, or past the limit)
  bool truncated = false;          // stopped at max_files
};

// How deep the walk goes below the root; it holds one open directory per level.
inline constexpr int max_scan_depth = 128;

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
// found with stat calls only (and the .gitignore files): when it changes, the index must
// be rebuilt. "" when `root` cannot be read or `cancel` became true.
std::string tree_stamp(const std::filesystem::path& root, const file_filter& filter,
                       const core::repo_settings& settings,
                       const std::atomic<bool>* cancel = nullptr);

// The paths scan_repo would consider (filters, .gitignore, size limit; nothing read), in
// walk order, at most settings.max_files; and the README.md (the root's, else the first
// found, any case), for deepwiki-open's /local_repo/structure. Throws std::runtime_error
// when `root` cannot be read.
struct repo_listing {
  std::vector<std::string> paths;
  bool truncated = false;
  std::string readme;
};
repo_listing list_repo(const std::filesystem::path& root, const file_filter& filter,
                       const core::repo_settings& settings);

bool is_valid_utf8(std::string_view s);

// The total size of the regular files under `dir`, links not followed (0 when it cannot
// be read).
std::uint64_t dir_bytes(const std::filesystem::path& dir);

// A file descriptor, closed when it goes out of scope.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Opens the directory `path`: a repository's root, which locate_repo checked or askd
// made (the only open that follows symlinks). Not open (false) when it cannot.
unique_fd open_dir(const std::filesystem::path& path);

// Opens the directory `name` inside the open directory `dir`, never through a symlink.
unique_fd open_dir_at(int dir, const std::string& name);

// What reading one file of a repository gave.
struct file_read {
  enum class outcome { ok, too_large, not_regular, failed, cancelled };
  outcome result = outcome::failed;
  std::string bytes;  // the content; with too_large, its first max_bytes bytes
};

// Reads the file `name` inside the open directory `dir`: never through a symlink, only
// a regular file (a FIFO or device is not_regular, and opening it does not block), and
// at most max_bytes + 1 bytes, one more than the limit meaning too_large, whatever the
// file's size was when it was listed (it may grow). Checks `cancel` between blocks.
file_read read_file_at(int dir, const std::string& name, std::size_t max_bytes,
                       const std::atomic<bool>* cancel = nullptr);

}  // namespace askd::rag
