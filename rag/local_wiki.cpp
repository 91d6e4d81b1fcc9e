#include "rag/local_wiki.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <string_view>
#include <vector>

#include "core/text.hpp"
#include "rag/text.hpp"

namespace askd::rag {
namespace {

// The text between <tag> and </tag>, or nullopt.
std::optional<std::string_view> between(std::string_view s, std::string_view open,
                                        std::string_view close) {
  auto a = s.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  a += open.size();
  auto b = s.find(close, a);
  if (b == std::string_view::npos) return std::nullopt;
  return s.substr(a, b - a);
}

std::string xml_escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// "src" -> "Src", "http_server" -> "Http server".
std::string title_of(std::string_view dir) {
  std::string t(dir);
  std::replace(t.begin(), t.end(), '_', ' ');
  std::replace(t.begin(), t.end(), '-', ' ');
  if (!t.empty()) t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
  return t;
}

// The README's first line of prose (not a heading, badge or blank), cut at 200 bytes.
std::string first_prose(std::string_view readme) {
  while (!readme.empty()) {
    auto nl = readme.find('\n');
    auto line = trim(readme.substr(0, nl));
    readme = nl == std::string_view::npos ? std::string_view() : readme.substr(nl + 1);
    if (line.empty() || line[0] == '#' || line[0] == '!' || line[0] == '[' || line[0] == '<' ||
        line[0] == '|' || line.rfind("```", 0) == 0)
      continue;
    return std::string(line.substr(0, core::utf8_cut(line, 200)));
  }
  return {};
}

struct page {
  std::string id, title, description, importance;
  std::vector<std::string> files;
};

}  // namespace

std::optional<std::string> local_wiki_structure(const std::string& prompt) {
  if (prompt.find("<wiki_structure>") == std::string::npos) return std::nullopt;
  auto tree = between(prompt, "<file_tree>", "</file_tree>");
  if (!tree) return std::nullopt;
  auto readme = between(prompt, "<readme>", "</readme>").value_or("");
  // "Analyze this GitHub repository owner/repo and create a wiki structure for it."
  std::string name = "the repository";
  if (auto n = between(prompt, "repository ", " and create")) name = std::string(trim(*n));
  bool comprehensive = prompt.find("<sections>") != std::string::npos;
  const std::size_t max_pages = comprehensive ? 8 : 5, max_files = 6;

  // Files by top-level directory ("" for the root), in the tree's order.
  std::map<std::string, std::vector<std::string>> groups;
  std::vector<std::string> order;
  std::string_view rest = *tree;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) continue;
    auto slash = line.find('/');
    std::string dir = slash == std::string_view::npos ? "" : std::string(line.substr(0, slash));
    if (!groups.count(dir)) order.push_back(dir);
    groups[dir].emplace_back(line);
  }
  std::vector<std::string> dirs;
  for (const auto& d : order)
    if (!d.empty()) dirs.push_back(d);
  std::stable_sort(dirs.begin(), dirs.end(), [&](const auto& a, const auto& b) {
    return groups[a].size() > groups[b].size();
  });
  if (dirs.size() > max_pages - 1) dirs.resize(max_pages - 1);

  std::vector<page> pages;
  page overview{"page-1", "Overview", "What " + name + " is and how it is laid out", "high", {}};
  for (const auto& f : groups[""])
    if (overview.files.size() < max_files) overview.files.push_back(f);
  pages.push_back(overview);
  for (const auto& d : dirs) {
    page p;
    p.id = "page-" + std::to_string(pages.size() + 1);
    p.title = title_of(d);
    p.description = "The " + std::to_string(groups[d].size()) + " files under " + d + "/";
    p.importance = pages.size() <= 2 ? "high" : "medium";
    for (const auto& f : groups[d])
      if (p.files.size() < max_files) p.files.push_back(f);
    pages.push_back(std::move(p));
  }

  auto description = first_prose(readme);
  if (description.empty()) description = "The structure of " + name + ", one page per top-level directory.";
  std::string x = "<wiki_structure>\n  <title>" + xml_escaped(name) + " wiki</title>\n  <description>" +
                  xml_escaped(description) + "</description>\n";
  if (comprehensive) {
    x += "  <sections>\n    <section id=\"section-1\">\n      <title>Overview</title>\n"
         "      <pages>\n        <page_ref>page-1</page_ref>\n      </pages>\n    </section>\n";
    if (pages.size() > 1) {
      x += "    <section id=\"section-2\">\n      <title>Components</title>\n      <pages>\n";
      for (std::size_t i = 1; i < pages.size(); ++i)
        x += "        <page_ref>" + pages[i].id + "</page_ref>\n";
      x += "      </pages>\n    </section>\n";
    }
    x += "  </sections>\n";
  }
  x += "  <pages>\n";
  for (std::size_t i = 0; i < pages.size(); ++i) {
    const auto& p = pages[i];
    x += "    <page id=\"" + p.id + "\">\n      <title>" + xml_escaped(p.title) +
         "</title>\n      <description>" + xml_escaped(p.description) +
         "</description>\n      <importance>" + p.importance + "</importance>\n      <relevant_files>\n";
    for (const auto& f : p.files) x += "        <file_path>" + xml_escaped(f) + "</file_path>\n";
    x += "      </relevant_files>\n      <related_pages>\n";
    // The overview relates to every page, every page to the overview.
    if (i == 0)
      for (std::size_t j = 1; j < pages.size(); ++j) x += "        <related>" + pages[j].id + "</related>\n";
    else
      x += "        <related>page-1</related>\n";
    x += "      </related_pages>\n";
    if (comprehensive) x += std::string("      <parent_section>section-") + (i ? "2" : "1") + "</parent_section>\n";
    x += "    </page>\n";
  }
  x += "  </pages>\n</wiki_structure>\n";
  return x;
}

}  // namespace askd::rag
