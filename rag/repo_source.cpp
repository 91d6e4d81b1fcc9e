#include "rag/repo_source.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rag/chunker.hpp"

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

core::result<repo_source> locate_repo(const core::chat_request& request, const core::config& cfg) {
  repo_source src;
  file_filter filter(cfg.repo, request);
  if (!is_local_repo(request)) {
    src.key = "remote:" + request.repo_url + "\n" + filter.fingerprint();
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
        "repo_url: " + request.repo_url + " is not under an allowed local root");
  if (!fs::is_directory(canon, ec))
    return core::error::make(core::error_code::bad_request,
                             "repo_url: " + request.repo_url + " is not a directory");
  src.local = true;
  src.path = canon.string();
  src.key = "local:" + src.path + "\n" + filter.fingerprint();
  return src;
}

std::shared_ptr<const repo_index> build_repo_index(const std::string& path,
                                                   const file_filter& filter,
                                                   const core::repo_settings& settings,
                                                   const std::atomic<bool>* cancel) {
  auto started = std::chrono::steady_clock::now();
  auto scan = scan_repo(path, filter, settings, cancel);
  if (cancel && cancel->load()) return nullptr;
  auto out = std::make_shared<repo_index>();
  out->stats = scan.stats;
  for (auto& f : scan.files) {
    for (auto& c : chunk_file(f.path, f.text, settings.chunk_words, settings.chunk_overlap_words)) {
      out->index.add(std::move(c));
      ++out->chunks;
    }
    f.text.clear();
    f.text.shrink_to_fit();
    if (cancel && cancel->load()) return nullptr;
  }
  out->index.finish();
  out->build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return out;
}

core::result<std::string> read_repo_file(const std::string& root, const std::string& rel,
                                         std::size_t max_bytes) {
  std::error_code ec;
  auto canon = fs::canonical(fs::path(root) / rel, ec);
  if (ec || !inside(canon.string(), root) || !fs::is_regular_file(canon, ec))
    return core::error::make(core::error_code::bad_request,
                             "filePath: " + rel + " is not a file inside the repository");
  if (fs::file_size(canon, ec) > max_bytes)
    return core::error::make(core::error_code::bad_request, "filePath: " + rel + " is too large");
  std::ifstream in(canon, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace askd::rag
