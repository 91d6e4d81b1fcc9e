#include "rag/lexical_index.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

namespace askd::rag {
namespace {

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Words that say nothing about code in a question.
const std::unordered_set<std::string>& stop_words() {
  static const std::unordered_set<std::string> words = {
      "the",   "a",     "an",  "is",   "are",  "was",    "be",     "how",  "what",  "where", "when",
      "why",   "which", "who", "does", "do",   "did",    "of",     "in",   "on",    "to",    "for",
      "and",   "or",    "it",  "this", "that", "with",   "by",     "from", "as",    "at",    "can",
      "i",     "you",   "me",  "my",   "we",   "our",    "there",  "here", "about", "into",  "work",
      "works", "used",  "use", "get",  "done", "happen", "happens"};
  return words;
}

// BM25 parameters, the usual ones.
constexpr double k1 = 1.2;
constexpr double b = 0.75;

}  // namespace

std::vector<std::string> code_terms(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!ident_char(text[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < text.size() && ident_char(text[i])) ++i;
    std::string_view ident = text.substr(start, i - start);
    if (ident.size() >= 2) out.push_back(to_lower(ident));
    // Parts: split at '_', lower→Upper, Upper→Upper+lower, letter↔digit.
    std::vector<std::string_view> parts;
    std::size_t p = 0;
    for (std::size_t j = 1; j <= ident.size(); ++j) {
      bool cut =
          j == ident.size() || ident[j] == '_' || ident[j - 1] == '_' ||
          (lower(ident[j - 1]) && upper(ident[j])) ||
          (upper(ident[j - 1]) && upper(ident[j]) && j + 1 < ident.size() && lower(ident[j + 1])) ||
          (digit(ident[j - 1]) != digit(ident[j]));
      if (!cut) continue;
      auto part = ident.substr(p, j - p);
      if (!part.empty() && part != "_") parts.push_back(part);
      p = j;
    }
    if (parts.size() > 1)
      for (auto part : parts)
        if (part.size() >= 2) out.push_back(to_lower(part));
  }
  return out;
}

void lexical_index::add(context_chunk chunk) {
  auto id = static_cast<std::uint32_t>(chunks_.size());
  auto terms = code_terms(chunk.text);
  // Path components weigh like a few mentions in the text.
  auto path_terms = code_terms(chunk.path);
  for (int rep = 0; rep < 3; ++rep) terms.insert(terms.end(), path_terms.begin(), path_terms.end());
  std::sort(terms.begin(), terms.end());
  for (std::size_t i = 0; i < terms.size();) {
    std::size_t j = i;
    while (j < terms.size() && terms[j] == terms[i]) ++j;
    postings_[terms[i]].push_back({id, static_cast<std::uint32_t>(j - i)});
    i = j;
  }
  length_.push_back(static_cast<std::uint32_t>(terms.size()));
  chunks_.push_back(std::move(chunk));
}

void lexical_index::finish() {
  double total = 0;
  for (auto l : length_) total += l;
  avg_length_ = length_.empty() ? 1 : std::max(1.0, total / static_cast<double>(length_.size()));
  for (auto& [term, list] : postings_) list.shrink_to_fit();
}

std::vector<std::string> query_terms(std::string_view question) {
  std::vector<std::string> kept;
  for (auto& t : code_terms(question))
    if (!stop_words().count(t)) kept.push_back(std::move(t));
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  return kept;
}

std::vector<context_chunk> lexical_index::search(std::string_view query, std::size_t k) const {
  auto kept = query_terms(query);
  std::unordered_map<std::uint32_t, double> scores;
  const double n = static_cast<double>(chunks_.size());
  for (const auto& t : kept) {
    auto it = postings_.find(t);
    if (it == postings_.end()) continue;
    double df = static_cast<double>(it->second.size());
    double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : it->second) {
      double tf = p.tf;
      double norm = tf + k1 * (1 - b + b * length_[p.chunk] / avg_length_);
      scores[p.chunk] += idf * tf * (k1 + 1) / norm;
    }
  }
  std::vector<std::pair<double, std::uint32_t>> ranked;
  ranked.reserve(scores.size());
  for (const auto& [id, s] : scores) ranked.emplace_back(s, id);
  auto top = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(top), ranked.end(),
                    [](const auto& a, const auto& b2) {
                      return a.first != b2.first ? a.first > b2.first : a.second < b2.second;
                    });
  std::vector<context_chunk> out;
  out.reserve(top);
  for (std::size_t i = 0; i < top; ++i) {
    out.push_back(chunks_[ranked[i].second]);
    out.back().score = ranked[i].first;
  }
  return out;
}

std::size_t lexical_index::memory_bytes() const {
  std::size_t bytes = length_.capacity() * sizeof(std::uint32_t);
  for (const auto& c : chunks_) bytes += sizeof(c) + c.text.capacity() + c.path.capacity();
  for (const auto& [term, list] : postings_)
    bytes += term.capacity() + 48 + list.capacity() * sizeof(posting);
  return bytes;
}

}  // namespace askd::rag
