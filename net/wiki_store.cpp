#include "net/wiki_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.hpp"
#include "rag/durable.hpp"

namespace askd::net {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view prefix = "deepwiki_cache_";
constexpr std::string_view suffix = ".json";
constexpr std::size_t max_part_bytes = 200;

bool plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

std::string encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (plain(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> decode(std::string_view s) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      if (!plain(static_cast<unsigned char>(s[i]))) return std::nullopt;
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = digit(s[i + 1]), lo = digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::int64_t mtime_ms(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

}  // namespace

std::string wiki_key_problem(const wiki_key& k) {
  const std::pair<const char*, const std::string*> parts[] = {
      {"repo_type", &k.type}, {"owner", &k.owner}, {"repo", &k.repo}, {"language", &k.language}};
  for (const auto& [name, value] : parts) {
    if (value->empty()) return std::string(name) + ": required";
    if (value->size() > max_part_bytes)
      return std::string(name) + ": at most " + std::to_string(max_part_bytes) + " bytes";
    for (unsigned char c : *value)
      if (c < 0x20 || c == 0x7f) return std::string(name) + ": control characters are not allowed";
  }
  if (wiki_file_name(k).size() > 255) return "owner, repo: the names are too long together";
  return {};
}

std::string wiki_file_name(const wiki_key& k) {
  return std::string(prefix) + encode(k.type) + "_" + encode(k.owner) + "_" + encode(k.repo) + "_" +
         encode(k.language) + std::string(suffix);
}

std::optional<wiki_key> parse_wiki_file_name(std::string_view name) {
  if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix)
    return std::nullopt;
  name = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  std::vector<std::string> parts;
  while (true) {
    auto cut = name.find('_');
    auto raw = name.substr(0, cut);
    auto part = decode(raw);
    // Only the one spelling encode() writes: no second file name for the same key.
    if (!part || part->empty() || encode(*part) != raw) return std::nullopt;
    parts.push_back(std::move(*part));
    if (cut == std::string_view::npos) break;
    name = name.substr(cut + 1);
  }
  if (parts.size() != 4) return std::nullopt;
  return wiki_key{parts[0], parts[1], parts[2], parts[3]};
}

wiki_store::wiki_store(std::string dir, std::size_t max_entries, std::uint64_t max_bytes)
    : dir_(std::move(dir)), max_entries_(max_entries), max_bytes_(max_bytes) {}

std::optional<std::string> wiki_store::get(const wiki_key& k) const {
  std::ifstream in(dir_ + "/" + wiki_file_name(k), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void wiki_store::put(const wiki_key& k, const std::string& json) {
  std::lock_guard lock(mu_);
  fs::create_directories(dir_);
  auto name = wiki_file_name(k);
  auto path = dir_ + "/" + name;
  rag::durable::write_file(path, [&](rag::durable::writer& w) { w.put(json.data(), json.size()); });
  auto entries = list();
  // Eviction and the listing go by file time in milliseconds (a coarser clock on some
  // file systems): two entries written within one would tie, and a tie fell to the names'
  // order, so the newest could be evicted first. The one just written is dated after
  // every other.
  std::int64_t latest = 0, mine = 0;
  for (const auto& e : entries) {
    if (e.file == name)
      mine = e.written_ms;
    else
      latest = std::max(latest, e.written_ms);
  }
  if (mine <= latest) {
    auto ms = latest + 1;
    timespec times[2] = {{0, UTIME_OMIT}, {ms / 1000, (ms % 1000) * 1000000}};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0) entries = list();
  }
  std::uint64_t total = 0;
  for (const auto& e : entries) total += e.bytes;
  // Oldest first out, never the one just written.
  while (!entries.empty() && (entries.size() > max_entries_ || total > max_bytes_) &&
         entries.back().file != name) {
    std::error_code ec;
    fs::remove(dir_ + "/" + entries.back().file, ec);
    core::log_info("wiki cache entry evicted")
        .kv("file", entries.back().file)
        .kv("reason",
            entries.size() > max_entries_ ? "wiki_cache.max_entries" : "wiki_cache.max_mb");
    total -= entries.back().bytes;
    entries.pop_back();
  }
}

bool wiki_store::remove(const wiki_key& k) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  return fs::remove(dir_ + "/" + wiki_file_name(k), ec);
}

std::vector<wiki_entry_info> wiki_store::list() const {
  std::vector<wiki_entry_info> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    auto key = parse_wiki_file_name(name);
    std::error_code sec;
    if (!key || !it->is_regular_file(sec)) continue;  // temporaries, strays
    wiki_entry_info e;
    e.key = std::move(*key);
    e.file = name;
    e.written_ms = mtime_ms(it->path());
    e.bytes = it->file_size(sec);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.written_ms != b.written_ms ? a.written_ms > b.written_ms : a.file < b.file;
  });
  return out;
}

}  // namespace askd::net
