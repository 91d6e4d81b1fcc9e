#include "rag/repo_source.hpp"

#include <algorithm>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/text.hpp"
#include "rag/chunker.hpp"
#include "rag/text.hpp"

namespace askd::rag {
namespace fs = std::filesystem;
namespace {

bool inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

}  // namespace

bool is_local_repo(const core::chat_request& r) {
  const auto& u = r.repo_url;
  return r.type == "local" || u.rfind("/", 0) == 0 || u.rfind("./", 0) == 0 || u == "." ||
         u.rfind("../", 0) == 0 || u.rfind("~", 0) == 0 || u.rfind("file://", 0) == 0;
}

bool is_inside_path(std::string_view rel) {
  if (!rel.empty() && (rel[0] == '/' || rel[0] == '\\')) return false;
  while (!rel.empty()) {
    auto slash = rel.find_first_of("/\\");
    if (rel.substr(0, slash) == "..") return false;
    if (slash == std::string_view::npos) break;
    rel.remove_prefix(slash + 1);
  }
  return true;
}

core::result<repo_source> locate_repo(const core::chat_request& request, const core::config& cfg) {
  repo_source src;
  // The filter's rules are only part of the index key, and a request without retrieval
  // opens no index: it skips the filter (conf/repo.json's default rules normalised
  // again, a tenth of a no-retrieval stream's instructions).
  bool indexed = request.retrieval.mode != "none";
  auto rules = [&] { return indexed ? file_filter(cfg.repo, request).fingerprint() : "none\n"; };
  if (!is_local_repo(request)) {
    std::string url = request.repo_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
    auto scheme = url.find("://");
    bool web = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
    auto path_at = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
    if (!web || path_at == std::string::npos || path_at + 1 >= url.size() ||
        url.find('@') != std::string::npos || core::contains_any(url, " \t\n\\"))
      return core::error::make(
          core::error_code::bad_request,
          "repo_url: expected https://host/owner/repo or a local path, got \"" +
              core::clip(request.repo_url) + "\"");
    // Only hosts the operator allows (github.com, gitlab.com, bitbucket.org by default):
    // askd must not be a way to reach other machines, least of all internal ones.
    auto host = lower(url.substr(scheme + 3, path_at - scheme - 3));
    const auto& allowed = cfg.repos.allowed_hosts;
    auto name = host.substr(0, host.rfind(':') == std::string::npos || host.back() == ']'
                                   ? host.size()
                                   : host.rfind(':'));  // "host" allows it on any port
    if (std::find(allowed.begin(), allowed.end(), host) == allowed.end() &&
        std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      return core::error::make(
          core::error_code::forbidden,
          "repo_url: host " + core::clip(host) + " is not allowed on this server (repos.allowed_hosts)");
    if (url.rfind("http://", 0) == 0 && !cfg.repos.allow_http)
      return core::error::make(
          core::error_code::forbidden,
          "repo_url: only https:// repositories are allowed on this server (repos.allow_http)");
    src.url = url;
    src.type = request.type;
    auto token_part =
        request.token.empty() ? std::string() : "\ntoken:" + stable_hash(request.token);
    src.checkout = cfg.data_dir + "/repos/" + stable_hash(url + token_part);
    src.key = "remote:" + url + token_part + "\n" + rules();
    return src;
  }
  std::string raw = request.repo_url;
  if (raw.rfind("file://", 0) == 0) raw = raw.substr(7);
  raw = core::expand_home(raw, nullptr);
  if (cfg.repos.local_roots.empty())
    return core::error::make(core::error_code::forbidden,
                             "local repositories are not allowed on this server (start askd with "
                             "--allow-local DIR or set repos.local_roots)");
  std::error_code ec;
  auto canon = fs::canonical(raw, ec);
  bool allowed = false;
  if (!ec)
    for (const auto& root : cfg.repos.local_roots)
      allowed = allowed || inside(canon.string(), root);
  // The same answer for "missing" and "outside": a refusal must not probe the disk.
  if (ec || !allowed)
    return core::error::make(
        core::error_code::forbidden,
        "repo_url: " + core::clip(request.repo_url) + " is not under an allowed local root");
  if (!fs::is_directory(canon, ec))
    return core::error::make(core::error_code::bad_request,
                             "repo_url: " + core::clip(request.repo_url) + " is not a directory");
  src.local = true;
  src.path = canon.string();
  src.key = "local:" + src.path + "\n" + rules();
  return src;
}

std::string stable_hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::shared_ptr<const repo_index> build_repo_index(
    const std::string& path, const file_filter& filter, const core::repo_settings& settings,
    const std::string& index_root, const std::string& key, const std::atomic<bool>* cancel,
    const task_runner* run, std::size_t shards, const index_progress& progress) {
  auto started = std::chrono::steady_clock::now();
  auto stamp = tree_stamp(path, filter, settings, cancel);
  if (cancel && cancel->load()) return nullptr;
  auto full_key = key + "\n" + stable_hash(stamp);
  auto out = std::make_shared<repo_index>();
  out->dir = index_root + "/" + stable_hash(full_key);
  auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
        .count();
  };
  // An index of the same key and the same files is reused as it is.
  std::error_code ec;
  if (fs::exists(out->dir, ec)) {
    try {
      auto idx = std::make_unique<lexical_index>(out->dir);
      if (idx->metadata("askd.key") == full_key) {
        out->stats.files = std::stoull("0" + idx->metadata("askd.files"));
        out->stats.bytes = std::stoull("0" + idx->metadata("askd.bytes"));
        out->chunks = idx->size();
        out->index = std::move(idx);
        out->reopened = true;
        out->build_ms = elapsed();
        return out;
      }
    } catch (const std::exception&) {
      // Unreadable: rebuilt below, replacing it.
    }
  }
  auto scan = scan_repo(path, filter, settings, cancel);
  if (cancel && cancel->load()) return nullptr;
  out->stats = scan.stats;
  // Small repositories get one shard; large ones one per task the runner can run.
  if (!run || scan.files.size() < 500) shards = 1;
  shards = std::max<std::size_t>(1, shards);
  index_writer writer(out->dir, shards);
  writer.set_metadata("askd.key", full_key);
  writer.set_metadata("askd.files", std::to_string(scan.stats.files));
  writer.set_metadata("askd.bytes", std::to_string(scan.stats.bytes));
  std::vector<std::size_t> chunk_counts(shards, 0);
  const std::size_t total = scan.files.size();
  std::atomic<std::size_t> indexed{0};
  const std::size_t step = std::max<std::size_t>(64, total / 20);  // about 20 reports
  if (progress) progress(0, total);
  std::vector<std::function<void()>> tasks;
  for (std::size_t s = 0; s < shards; ++s) {
    tasks.push_back([&, s] {
      // Files go round-robin to shards; each task chunks and indexes its own.
      for (std::size_t i = s; i < scan.files.size(); i += shards) {
        if (cancel && cancel->load()) return;
        auto& f = scan.files[i];
        for (auto& c :
             chunk_file(f.path, f.text, settings.chunk_words, settings.chunk_overlap_words)) {
          writer.add(c, s);
          ++chunk_counts[s];
        }
        std::string().swap(f.text);
        auto done = ++indexed;
        if (progress && done % step == 0 && done < total) progress(done, total);
      }
      writer.finish_shard(s);
    });
  }
  if (run) {
    (*run)(tasks);
  } else {
    for (auto& t : tasks) t();
  }
  if (cancel && cancel->load()) return nullptr;  // the writer removes its temporary files
  for (auto n : chunk_counts) out->chunks += n;
  writer.commit();
  if (progress) progress(total, total);
  out->index = std::make_unique<lexical_index>(out->dir);
  out->build_ms = elapsed();
  return out;
}

core::result<std::string> read_repo_file(const std::string& root, const std::string& rel,
                                         std::size_t max_bytes) {
  auto refused = [&] {
    return core::error::make(core::error_code::bad_request,
                             "filePath: " + rel + " is not a file inside the repository");
  };
  // Walked down one name at a time from the root, never through a symlink: a link is
  // refused even when it points inside (the index does not follow links either).
  if (rel.empty() || rel.front() == '/') return refused();
  auto dir = open_dir(root);
  std::vector<std::string> names;
  for (std::string_view rest = rel; !rest.empty();) {
    auto slash = rest.find('/');
    auto name = rest.substr(0, slash);
    if (name == "..") return refused();
    if (!name.empty() && name != ".") names.emplace_back(name);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (!dir || names.empty()) return refused();
  for (std::size_t i = 0; i + 1 < names.size(); ++i) {
    dir = open_dir_at(dir.get(), names[i]);
    if (!dir) return refused();
  }
  auto file = read_file_at(dir.get(), names.back(), max_bytes);
  if (file.result == file_read::outcome::too_large)
    return core::error::make(core::error_code::bad_request, "filePath: " + rel + " is too large");
  if (file.result != file_read::outcome::ok) return refused();
  return std::move(file.bytes);
}

}  // namespace askd::rag
