#include "rag/repo_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "core/text.hpp"

namespace askd::rag {
namespace fs = std::filesystem;
namespace {

bool is_set(const std::atomic<bool>* flag) {
  return flag && flag->load(std::memory_order_relaxed);
}

// The names in the open directory `dir`, sorted, without "." and "..".
std::vector<std::string> list_dir(int dir) {
  // A descriptor of its own: readdir moves its offset and closedir closes it.
  int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {};
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return {};
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

struct walker {
  const file_filter& filter;
  const core::repo_settings& settings;
  const std::atomic<bool>* cancel;
  bool stat_only = false;  // record path, size and mtime instead of reading
  gitignore ignore;
  scan_result out;
  std::string stamp;
  std::vector<std::string>* listing = nullptr;  // stat_only: the paths, not the stamp

  bool stopped() const { return is_set(cancel) || out.stats.truncated; }

  // `dir` is open; `included`: one of its directories (itself too) is in included_dirs.
  void walk(int dir, const std::string& rel_dir, bool included, int depth) {
    if (stopped()) return;
    read_gitignore(dir, rel_dir);
    for (const auto& name : list_dir(dir)) {
      if (stopped()) return;
      auto rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      struct stat st {};
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (filter.skip_dir(rel)) continue;
        if (ignore.ignored(rel, true)) {
          ++out.stats.ignored;
          continue;
        }
        if (depth >= max_scan_depth) {
          ++out.stats.too_deep;
          continue;
        }
        // O_NOFOLLOW again: it may have been replaced by a link since fstatat.
        auto sub = open_dir_at(dir, name);
        if (sub) walk(sub.get(), rel, included || filter.includes_dir(rel), depth + 1);
      } else if (S_ISREG(st.st_mode)) {
        take_file(dir, name, rel, st, included);
      } else {
        ++out.stats.not_regular;  // links could leave the repository; FIFOs block
      }
    }
  }

  void read_gitignore(int dir, const std::string& rel_dir) {
    auto r = read_file_at(dir, ".gitignore", max_gitignore_bytes, cancel);
    if (r.result == file_read::outcome::too_large) {
      // The rest is ignored, and so is the line cut in two: half a rule is another rule.
      ++out.stats.ignore_cut;
      auto last_newline = r.bytes.rfind('\n');
      r.bytes.resize(last_newline == std::string::npos ? 0 : last_newline + 1);
    } else if (r.result != file_read::outcome::ok) {
      return;  // none, a link, a FIFO...: no rules from it
    }
    ignore.add(rel_dir, r.bytes);
    out.stats.ignore_dropped = ignore.dropped();
  }

  void take_file(int dir, const std::string& name, const std::string& rel, const struct stat& st,
                 bool included) {
    if (!filter.keep_file(rel, included)) {
      ++out.stats.filtered;
      return;
    }
    if (ignore.ignored(rel, false)) {
      ++out.stats.ignored;
      return;
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > settings.max_file_bytes) {
      ++out.stats.too_large;
      return;
    }
    if (stat_only && listing) {
      if (listing->size() >= settings.max_files) {
        out.stats.truncated = true;
        return;
      }
      listing->push_back(rel);
      return;
    }
    if (stat_only) {
      auto mtime =
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
      stamp += rel + '\t' + std::to_string(size) + '\t' + std::to_string(mtime) + '\n';
      return;
    }
    auto r = read_file_at(dir, name, settings.max_file_bytes, cancel);
    switch (r.result) {
      case file_read::outcome::ok:
        break;
      case file_read::outcome::too_large:  // it grew since it was listed
        ++out.stats.too_large;
        return;
      case file_read::outcome::not_regular:  // replaced since it was listed
        ++out.stats.not_regular;
        return;
      case file_read::outcome::failed:
      case file_read::outcome::cancelled:
        return;
    }
    auto& text = r.bytes;
    if (text.find('\0') != std::string::npos) {
      ++out.stats.binary;
      return;
    }
    if (!is_valid_utf8(text)) {
      ++out.stats.not_utf8;
      return;
    }
    if (out.files.size() >= settings.max_files) {
      out.stats.truncated = true;
      return;
    }
    out.stats.bytes += text.size();
    ++out.stats.files;
    out.files.push_back({rel, std::move(text)});
  }
};

}  // namespace

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

unique_fd::~unique_fd() {
  if (fd_ >= 0) ::close(fd_);
}

unique_fd open_dir(const fs::path& path) {
  return unique_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

unique_fd open_dir_at(int dir, const std::string& name) {
  return unique_fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

file_read read_file_at(int dir, const std::string& name, std::size_t max_bytes,
                       const std::atomic<bool>* cancel) {
  file_read out;
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
  unique_fd fd(
      ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP) out.result = file_read::outcome::not_regular;  // a symlink
    return out;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return out;
  if (!S_ISREG(st.st_mode)) {
    out.result = file_read::outcome::not_regular;
    return out;
  }
  // One byte past the limit tells "too large"; the size fstat gave is only a hint.
  const std::size_t want = max_bytes + (max_bytes < SIZE_MAX ? 1 : 0);
  constexpr std::size_t block = 64 << 10;
  // Sized by that hint (the text is kept: no slack per file); grown if the file grew.
  out.bytes.reserve(std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size) + 1, want));
  while (out.bytes.size() < want) {
    if (is_set(cancel)) {
      out.bytes.clear();
      out.result = file_read::outcome::cancelled;
      return out;
    }
    auto at = out.bytes.size();
    auto room = out.bytes.capacity() > at ? out.bytes.capacity() - at : block;
    auto n = std::min({block, want - at, room});
    out.bytes.resize(at + n);
    auto got = ::read(fd.get(), out.bytes.data() + at, n);
    if (got < 0 && errno == EINTR) {
      out.bytes.resize(at);
      continue;
    }
    if (got < 0) {
      out.bytes.clear();
      return out;
    }
    out.bytes.resize(at + static_cast<std::size_t>(got));
    if (got == 0) break;  // the end
  }
  if (out.bytes.size() > max_bytes) {
    out.bytes.resize(max_bytes);
    out.result = file_read::outcome::too_large;
  } else {
    out.result = file_read::outcome::ok;
  }
  return out;
}

std::string tree_stamp(const fs::path& root, const file_filter& filter,
                       const core::repo_settings& settings, const std::atomic<bool>* cancel) {
  auto dir = open_dir(root);
  if (!dir) return {};
  walker w{filter, settings, cancel, true, {}, {}, {}};
  w.walk(dir.get(), "", false, 0);
  if (is_set(cancel)) return {};
  return w.stamp;
}

repo_listing list_repo(const fs::path& root, const file_filter& filter,
                       const core::repo_settings& settings) {
  auto dir = open_dir(root);
  if (!dir) throw std::runtime_error(root.string() + " is not a readable directory");
  repo_listing out;
  walker w{filter, settings, nullptr, true, {}, {}, {}};
  w.listing = &out.paths;
  w.walk(dir.get(), "", false, 0);
  out.truncated = w.out.stats.truncated;
  // The README: the root's first, else the first found (any case of README.md).
  auto is_readme = [](std::string_view path) {
    auto name = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
    return name.size() == 9 && core::iequals(name, "readme.md");
  };
  const std::string* readme = nullptr;
  for (const auto& p : out.paths)
    if (is_readme(p) && (!readme || (p.find('/') == std::string::npos &&
                                     readme->find('/') != std::string::npos)))
      readme = &p;
  if (readme) {
    // Opened one directory at a time with O_NOFOLLOW, like every read here.
    auto at = open_dir(root);
    std::string_view rest = *readme;
    for (auto slash = rest.find('/'); at && slash != std::string_view::npos; slash = rest.find('/')) {
      at = open_dir_at(at.get(), std::string(rest.substr(0, slash)));
      rest = rest.substr(slash + 1);
    }
    if (at) {
      auto r = read_file_at(at.get(), std::string(rest), settings.max_file_bytes, nullptr);
      if (r.result == file_read::outcome::ok && is_valid_utf8(r.bytes)) out.readme = std::move(r.bytes);
    }
  }
  return out;
}

std::uint64_t dir_bytes(const fs::path& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code sec;
    // A link's target is elsewhere (or counted as itself): its size is not this tree's.
    if (!fs::is_regular_file(it->symlink_status(sec))) continue;
    auto size = it->file_size(sec);
    if (!sec) n += size;
  }
  return n;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

scan_result scan_repo(const fs::path& root, const file_filter& filter,
                      const core::repo_settings& settings, const std::atomic<bool>* cancel) {
  auto dir = open_dir(root);
  if (!dir) throw std::runtime_error(root.string() + " is not a readable directory");
  walker w{filter, settings, cancel, false, {}, {}, {}};
  w.walk(dir.get(), "", false, 0);
  if (is_set(cancel)) return {};
  return std::move(w.out);
}

}  // namespace askd::rag
