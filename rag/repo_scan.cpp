#include "rag/repo_scan.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace askd::rag {
namespace fs = std::filesystem;
namespace {

struct walker {
  const fs::path& root;
  const file_filter& filter;
  const core::repo_settings& settings;
  const std::atomic<bool>* cancel;
  bool stat_only = false;  // record path, size and mtime instead of reading
  gitignore ignore;
  scan_result out;
  std::string stamp;

  bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }

  void walk(const fs::path& dir, const std::string& rel_dir) {
    if (cancelled() || out.stats.truncated) return;
    std::error_code ec;
    if (fs::exists(dir / ".gitignore", ec))
      ignore.add(rel_dir, read_file_bytes(dir / ".gitignore"));
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      entries.push_back(*it);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.path().filename() < b.path().filename();
    });
    for (const auto& e : entries) {
      if (cancelled() || out.stats.truncated) return;
      auto name = e.path().filename().string();
      auto rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      std::error_code sec;
      auto st = e.symlink_status(sec);
      if (sec || fs::is_symlink(st)) continue;  // links could leave the repository
      if (fs::is_directory(st)) {
        if (filter.skip_dir(rel)) continue;
        if (ignore.ignored(rel, true)) {
          ++out.stats.ignored;
          continue;
        }
        walk(e.path(), rel);
      } else if (fs::is_regular_file(st)) {
        take_file(e, rel);
      }
    }
  }

  void take_file(const fs::directory_entry& e, const std::string& rel) {
    if (!filter.keep_file(rel)) {
      ++out.stats.filtered;
      return;
    }
    if (ignore.ignored(rel, false)) {
      ++out.stats.ignored;
      return;
    }
    std::error_code ec;
    auto size = e.file_size(ec);
    if (ec) return;
    if (size > settings.max_file_bytes) {
      ++out.stats.too_large;
      return;
    }
    if (stat_only) {
      auto mtime = e.last_write_time(ec).time_since_epoch().count();
      stamp += rel + '\t' + std::to_string(size) + '\t' + std::to_string(mtime) + '\n';
      return;
    }
    auto text = read_file_bytes(e.path());
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

std::string tree_stamp(const fs::path& root, const file_filter& filter,
                       const core::repo_settings& settings) {
  walker w{root, filter, settings, nullptr, true, {}, {}, {}};
  w.walk(root, "");
  return w.stamp;
}

std::string read_file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint64_t dir_bytes(const fs::path& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) n += it->file_size(ec);
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
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw std::runtime_error(root.string() + " is not a readable directory");
  walker w{root, filter, settings, cancel, false, {}, {}, {}};
  w.walk(root, "");
  if (w.cancelled()) return {};
  return std::move(w.out);
}

}  // namespace askd::rag
