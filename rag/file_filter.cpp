#include "rag/file_filter.hpp"

#include "rag/glob.hpp"
#include "rag/text.hpp"

namespace askd::rag {
namespace {

// "./node_modules/" → "node_modules"; "/a/b/" → "a/b".
std::string normalise_rule(std::string_view r) {
  r = trim(r);
  while (r.rfind("./", 0) == 0) r.remove_prefix(2);
  while (!r.empty() && r.front() == '/') r.remove_prefix(1);
  while (!r.empty() && r.back() == '/') r.remove_suffix(1);
  return std::string(r);
}

std::vector<std::string> normalise_all(const std::vector<std::string>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules)
    if (auto n = normalise_rule(r); !n.empty()) out.push_back(std::move(n));
  return out;
}

std::string_view last_component(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A directory rule: with a '/', the path from the root (or a prefix of it); without,
// any single component. Ancestors were already checked while walking down.
bool dir_rule_matches(const std::string& rule, std::string_view rel_dir) {
  if (rule.find('/') != std::string::npos) return glob_match(rule, rel_dir);
  return glob_match(rule, last_component(rel_dir));
}

bool any_dir_rule(const std::vector<std::string>& rules, std::string_view rel_dir) {
  for (const auto& r : rules)
    if (dir_rule_matches(r, rel_dir)) return true;
  return false;
}

// A file rule: with a '/', the whole relative path; without, the file name.
bool any_file_rule(const std::vector<std::string>& rules, std::string_view rel_path) {
  for (const auto& r : rules) {
    if (r.find('/') != std::string::npos ? glob_match(r, rel_path)
                                         : glob_match(r, last_component(rel_path)))
      return true;
  }
  return false;
}

bool under_included_dir(const std::vector<std::string>& rules, std::string_view rel_path) {
  // Any ancestor directory of the file matching a rule includes it.
  for (std::size_t slash = rel_path.find('/'); slash != std::string_view::npos;
       slash = rel_path.find('/', slash + 1)) {
    if (any_dir_rule(rules, rel_path.substr(0, slash))) return true;
  }
  return false;
}

}  // namespace

file_filter::file_filter(const core::repo_settings& settings, const core::chat_request& request) {
  included_dirs_ = normalise_all(split_list(request.included_dirs));
  included_files_ = normalise_all(split_list(request.included_files));
  inclusion_ = !included_dirs_.empty() || !included_files_.empty();
  if (!inclusion_) {
    excluded_dirs_ = normalise_all(settings.excluded_dirs);
    for (auto& r : normalise_all(split_list(request.excluded_dirs)))
      excluded_dirs_.push_back(std::move(r));
    excluded_files_ = normalise_all(settings.excluded_files);
    for (auto& r : normalise_all(split_list(request.excluded_files)))
      excluded_files_.push_back(std::move(r));
  }
  extensions_ = settings.extensions;
  auto add = [&](const char* tag, const std::vector<std::string>& v) {
    fingerprint_ += tag;
    for (const auto& r : v) fingerprint_ += r + '\n';
  };
  add("xd:", excluded_dirs_);
  add("xf:", excluded_files_);
  add("id:", included_dirs_);
  add("if:", included_files_);
  add("ext:", extensions_);
}

bool file_filter::skip_dir(std::string_view rel_dir) const {
  auto name = last_component(rel_dir);
  if (name == ".git") return true;  // never read, whatever the rules say
  if (inclusion_) return false;     // inclusion decides per file
  return any_dir_rule(excluded_dirs_, rel_dir);
}

bool file_filter::includes_dir(std::string_view rel_dir) const {
  return inclusion_ && any_dir_rule(included_dirs_, rel_dir);
}

bool file_filter::keep_file(std::string_view rel_path) const {
  return keep_file(rel_path, inclusion_ && under_included_dir(included_dirs_, rel_path));
}

bool file_filter::keep_file(std::string_view rel_path, bool in_included_dir) const {
  auto name = last_component(rel_path);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  bool known = false;
  for (const auto& e : extensions_) known = known || name.substr(dot) == e;
  if (!known) return false;
  if (inclusion_) {
    return in_included_dir || any_file_rule(included_files_, rel_path);
  }
  return !any_file_rule(excluded_files_, rel_path);
}

void gitignore::add(std::string_view rel_dir, std::string_view text) {
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_gitignore_line) {
      ++dropped_;
      continue;
    }
    // Trailing spaces are ignored unless escaped.
    while (!line.empty() && line.back() == ' ' &&
           !(line.size() > 1 && line[line.size() - 2] == '\\'))
      line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    rule r;
    r.base = std::string(rel_dir);
    if (line[0] == '!') {
      r.negate = true;
      line.remove_prefix(1);
    } else if (line[0] == '\\') {
      line.remove_prefix(1);  // "\#file", "\!file"
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    r.anchored = line.find('/') != std::string_view::npos;
    if (line[0] == '/') line.remove_prefix(1);
    if (rules_.size() >= max_gitignore_rules) {
      ++dropped_;
      continue;
    }
    r.pattern = std::string(line);
    rules_.push_back(std::move(r));
  }
}

bool gitignore::ignored(std::string_view rel_path, bool is_dir) const {
  bool result = false;
  for (const auto& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    std::string_view p = rel_path;
    if (!r.base.empty()) {
      if (p.size() <= r.base.size() || p.compare(0, r.base.size(), r.base) != 0 ||
          p[r.base.size()] != '/')
        continue;
      p.remove_prefix(r.base.size() + 1);
    }
    bool hit = r.anchored ? glob_match(r.pattern, p) : glob_match(r.pattern, last_component(p));
    if (hit) result = !r.negate;
  }
  return result;
}

}  // namespace askd::rag
