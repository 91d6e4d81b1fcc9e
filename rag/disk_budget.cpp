#include "rag/disk_budget.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "rag/durable.hpp"
#include "rag/repo_scan.hpp"

namespace askd::rag {
namespace fs = std::filesystem;
namespace {

constexpr const char* roots[] = {"repos", "indexes"};

// The process that made a temporary: the digits after ".tmp-" or ".trash-"; 0 when the
// name is not a temporary's.
pid_t owner_of(const std::string& name) {
  for (std::string_view mark : {".tmp-", ".trash-"}) {
    auto at = name.find(mark);
    if (at == std::string::npos) continue;
    pid_t pid = 0;
    for (auto i = at + mark.size(); i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i)
      pid = pid * 10 + (name[i] - '0');
    return pid > 0 ? pid : -1;
  }
  return 0;
}

std::chrono::system_clock::time_point mtime_of(const fs::path& p) {
  std::error_code ec;
  auto t = fs::last_write_time(p, ec);
  if (ec) return {};
  return std::chrono::file_clock::to_sys(t);
}

}  // namespace

std::vector<disk_item> disk_items(const std::string& data_dir) {
  std::vector<disk_item> out;
  for (const char* root : roots) {
    std::error_code ec;
    for (fs::directory_iterator it(fs::path(data_dir) / root, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::error_code sec;
      if (it->symlink_status(sec).type() != fs::file_type::directory) continue;
      if (owner_of(it->path().filename().string()) != 0) continue;
      out.push_back({it->path().string(), dir_bytes(it->path()), mtime_of(it->path()), false});
    }
  }
  return out;
}

std::vector<std::string> over_budget(std::vector<disk_item> items, std::uint64_t budget) {
  std::uint64_t total = 0;
  for (const auto& i : items) total += i.bytes;
  std::stable_sort(items.begin(), items.end(),
                   [](const disk_item& a, const disk_item& b) { return a.used < b.used; });
  std::vector<std::string> out;
  for (const auto& i : items) {
    if (total <= budget) break;
    if (i.in_use) continue;
    out.push_back(i.path);
    total -= i.bytes;
  }
  return out;
}

std::size_t remove_stale_temporaries(const std::string& data_dir) {
  std::size_t removed = 0;
  for (const char* root : roots) {
    std::error_code ec;
    std::vector<fs::path> stale;
    for (fs::directory_iterator it(fs::path(data_dir) / root, ec), end; !ec && it != end;
         it.increment(ec)) {
      auto name = it->path().filename().string();
      auto pid = owner_of(name);
      if (pid == 0) continue;
      // Trash is garbage whoever made it. A live process's other temporaries are its
      // work in progress (ours too: a build running now); a process gone left garbage.
      bool trash = name.find(".trash-") != std::string::npos;
      bool alive = pid > 0 && (pid == ::getpid() || ::kill(pid, 0) == 0 || errno == EPERM);
      if (trash || !alive) stale.push_back(it->path());
    }
    for (const auto& p : stale) {
      std::error_code rec;
      fs::remove_all(p, rec);
      if (!rec) ++removed;
    }
  }
  return removed;
}

std::string move_to_trash(const std::string& path) {
  auto to = durable::temporary_name(path, ".trash-");
  std::error_code ec;
  fs::rename(path, to, ec);
  return ec ? std::string() : to;
}

}  // namespace askd::rag
