#include "rag/extractive.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "rag/lexical_index.hpp"
#include "rag/text.hpp"

namespace askd::rag {
namespace {

// The text of a comment line without its markers, or "" when the line is not a comment.
std::string comment_text(std::string_view line) {
  auto t = trim(line);
  for (std::string_view mark : {"///", "//!", "//", "/**", "/*", "*/", "* ", "#", "--", "\"\"\""}) {
    if (t.rfind(mark, 0) == 0) {
      t.remove_prefix(mark.size());
      if (t.size() >= 2 && t.substr(t.size() - 2) == "*/") t.remove_suffix(2);
      t = trim(t);
      if (t.size() < 8 || t[0] == '!' || t.rfind("include", 0) == 0 || t.rfind("pragma", 0) == 0)
        return {};
      return std::string(t);
    }
  }
  return {};
}

std::string language_of(const std::string& path) {
  auto dot = path.rfind('.');
  if (dot == std::string::npos) return "";
  auto ext = path.substr(dot + 1);
  if (ext == "hpp" || ext == "cc" || ext == "cxx" || ext == "hh" || ext == "ipp" || ext == "h")
    return "cpp";
  if (ext == "py") return "python";
  if (ext == "js" || ext == "mjs" || ext == "jsx") return "javascript";
  if (ext == "ts" || ext == "tsx") return "typescript";
  if (ext == "rs") return "rust";
  if (ext == "md") return "markdown";
  if (ext == "sh") return "bash";
  if (ext == "yml") return "yaml";
  if (ext == "txt" || ext == "rst") return "";
  return ext;
}

std::string fence_for(std::string_view text) {
  std::string fence = "```";
  while (text.find(fence) != std::string_view::npos) fence += '`';
  return fence;
}

// Words of the languages' syntax: never a lead.
bool keyword(const std::string& w) {
  static const std::set<std::string> words = {
      "auto", "bool", "break", "case", "class", "const", "continue", "default", "def", "delete",
      "else", "enum", "false", "float", "function", "import", "include", "inline", "return", "self",
      "static", "std", "string", "struct", "switch", "template", "this", "true", "typename",
      "unsigned", "using", "void", "while", "none", "null", "nullptr", "elif", "lambda", "pass",
      "raise", "yield", "async", "await", "export", "from", "let", "var", "size_t", "int64_t",
      "uint64_t", "int32_t", "namespace", "public", "private", "override", "virtual",
      // the standard library's names say nothing of this repository
      "move", "forward", "shared_ptr", "unique_ptr", "make_shared", "make_unique", "vector",
      "optional", "nullopt", "string_view", "size", "begin", "push_back", "emplace_back",
      "static_cast", "const_cast", "reinterpret_cast", "uint8_t", "uint32_t", "core", "print",
      "range", "isinstance", "console", "require", "module", "exports"};
  return words.count(w) > 0;
}

}  // namespace

std::vector<std::string> extractive_answer(const std::string& question,
                                           const std::vector<context_chunk>& ranked,
                                           const std::string& repo, std::size_t max_sections) {
  std::vector<std::string> out;
  std::set<std::string> query_terms;
  for (auto& t : rag::query_terms(question)) query_terms.insert(t);

  if (ranked.empty()) {
    out.push_back(
        "*Extractive answer from askd's `local` provider (no language model).*\n\n"
        "Nothing in `" +
        repo +
        "` matches the question. Name a function, type, file or "
        "term that appears in the code and ask again.\n");
    return out;
  }
  out.push_back(
      "*Extractive answer from askd's `local` provider: no language model wrote this. "
      "These are the places in `" +
      repo + "` that best match the question, best first.*\n\n");

  struct taken {
    std::string path;
    int from, to;
  };
  std::vector<taken> used;
  std::size_t n = 0;
  for (const auto& c : ranked) {
    if (n == max_sections) break;
    auto lines = split_lines(c.text);
    // The line with the most query terms; ties go to the earliest.
    std::size_t best = 0;
    std::size_t best_hits = 0;
    std::set<std::string> hit_terms;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::size_t hits = 0;
      for (auto& t : code_terms(lines[i]))
        if (query_terms.count(t)) ++hits, hit_terms.insert(t);
      if (hits > best_hits) best_hits = hits, best = i;
    }
    int from = c.start_line + static_cast<int>(best > 3 ? best - 3 : 0);
    int to = std::min(c.end_line, from + 14);
    bool overlaps = false;
    for (const auto& u : used)
      overlaps = overlaps || (u.path == c.path && from <= u.to && to >= u.from);
    if (overlaps) continue;
    used.push_back({c.path, from, to});
    ++n;

    // A comment just above or on the best line explains it best.
    std::string note;
    for (std::size_t back = 0; back <= 6 && back <= best && note.empty(); ++back)
      note = comment_text(lines[best - back]);
    std::string terms;
    for (const auto& t : hit_terms) terms += (terms.empty() ? "`" : ", `") + t + "`";
    if (note.empty())
      note = terms.empty() ? "Related code." : "Mentions " + terms + ".";
    else if (!terms.empty())
      note += " (mentions " + terms + ")";

    std::string excerpt;
    for (int l = from; l <= to; ++l) {
      auto idx = static_cast<std::size_t>(l - c.start_line);
      if (idx >= lines.size()) break;
      excerpt += std::string(lines[idx]) + "\n";
    }
    auto fence = fence_for(excerpt);
    out.push_back("### " + std::to_string(n) + ". `" + c.path + "` lines " + std::to_string(from) +
                  "–" + std::to_string(to) + "\n\n" + note + "\n\n");
    out.push_back(fence + language_of(c.path) + "\n" + excerpt + fence + "\n\n");
  }
  return out;
}

std::string extractive_leads(const std::string& question, const std::vector<context_chunk>& ranked,
                             std::size_t n) {
  std::set<std::string> asked;
  for (auto& t : query_terms(question)) asked.insert(t);
  // Each name, weighted by the rank of the chunks it appears in (the best count most).
  std::map<std::string, double> weight;
  constexpr std::size_t chunks = 5;
  for (std::size_t r = 0; r < ranked.size() && r < chunks; ++r) {
    const auto& text = ranked[r].text;
    for (std::size_t i = 0; i < text.size();) {
      auto c = static_cast<unsigned char>(text[i]);
      if (!(std::isalpha(c) || c == '_')) {
        ++i;
        continue;
      }
      auto start = i;
      while (i < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
        ++i;
      if (i - start >= 4) weight[text.substr(start, i - start)] += 1.0 / static_cast<double>(r + 1);
    }
  }
  // Then the names worth following: no syntax, no macro or constant (CHECK, MAX_SIZE), none
  // the question asked; a compound name (compute_delay, startAttempt) points somewhere, a
  // word may not.
  for (auto it = weight.begin(); it != weight.end();) {
    const auto& word = it->first;
    bool known = keyword(lower(word)) || query_terms(word).empty() ||
                 std::none_of(word.begin(), word.end(),
                              [](char ch) { return std::islower(static_cast<unsigned char>(ch)); });
    for (auto& t : code_terms(word)) known = known || asked.count(t) > 0;
    if (known) {
      it = weight.erase(it);
      continue;
    }
    bool compound = word.find('_') != std::string::npos ||
                    std::any_of(word.begin() + 1, word.end(), [](char ch) {
                      return std::isupper(static_cast<unsigned char>(ch));
                    });
    if (compound) it->second *= 2;
    ++it;
  }
  std::vector<std::pair<std::string, double>> best(weight.begin(), weight.end());
  std::stable_sort(best.begin(), best.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (best.empty()) return "Next: nothing";
  std::string out = "Next: ";
  for (std::size_t i = 0; i < best.size() && i < n; ++i)
    out += (i ? ", `" : "`") + best[i].first + "`";
  return out + ".";
}

}  // namespace askd::rag
