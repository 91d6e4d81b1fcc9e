#include "rag/lexical_index.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

#include <unistd.h>
#include <xapian.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

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

std::vector<std::string> query_terms(std::string_view question) {
  std::vector<std::string> kept;
  for (auto& t : code_terms(question))
    if (!stop_words().count(t)) kept.push_back(std::move(t));
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  return kept;
}

namespace {

std::string encode(const context_chunk& c) {
  std::string d = c.path;
  d += '\0';
  d += std::to_string(c.start_line);
  d += '\0';
  d += std::to_string(c.end_line);
  d += '\0';
  d += c.text;
  return d;
}

context_chunk decode(const std::string& d) {
  context_chunk c;
  auto a = d.find('\0');
  auto b = d.find('\0', a + 1);
  auto e = d.find('\0', b + 1);
  if (a == std::string::npos || b == std::string::npos || e == std::string::npos) return c;
  c.path = d.substr(0, a);
  c.start_line = std::stoi(d.substr(a + 1, b - a - 1));
  c.end_line = std::stoi(d.substr(b + 1, e - b - 1));
  c.text = d.substr(e + 1);
  return c;
}

}  // namespace

index_writer::index_writer(std::string dir) : dir_(std::move(dir)) {
  static std::atomic<std::uint64_t> counter{0};
  tmp_ = dir_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::filesystem::create_directories(std::filesystem::path(dir_).parent_path());
  std::filesystem::remove_all(tmp_);
  db_ = std::make_unique<Xapian::WritableDatabase>(
      tmp_, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
}

index_writer::~index_writer() {
  if (committed_) return;
  try {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  } catch (...) {
  }
}

void index_writer::add(const context_chunk& chunk) {
  Xapian::Document doc;
  doc.set_data(encode(chunk));
  auto terms = code_terms(chunk.text);
  // Path components weigh like a few mentions in the text.
  auto path_terms = code_terms(chunk.path);
  for (int rep = 0; rep < 3; ++rep) terms.insert(terms.end(), path_terms.begin(), path_terms.end());
  std::sort(terms.begin(), terms.end());
  for (std::size_t i = 0; i < terms.size();) {
    std::size_t j = i;
    while (j < terms.size() && terms[j] == terms[i]) ++j;
    if (terms[i].size() < 200) doc.add_term(terms[i], static_cast<Xapian::termcount>(j - i));
    i = j;
  }
  db_->add_document(doc);
}

void index_writer::set_metadata(const std::string& key, const std::string& value) {
  db_->set_metadata(key, value);
}

void index_writer::commit() {
  db_->commit();
  db_->close();
  db_.reset();
  std::error_code ec;
  std::filesystem::rename(tmp_, dir_, ec);
  if (ec) {
    // Someone finished the same index first (or a stale one is there): keep what is at
    // dir_ when it opens, else replace it.
    bool usable = false;
    try {
      Xapian::Database probe(dir_);
      usable = true;
    } catch (const Xapian::Error&) {
    }
    if (usable) {
      std::filesystem::remove_all(tmp_, ec);
    } else {
      std::filesystem::remove_all(dir_, ec);
      std::filesystem::rename(tmp_, dir_);
    }
  }
  committed_ = true;
}

lexical_index::lexical_index(const std::string& dir) {
  try {
    db_ = std::make_unique<Xapian::Database>(dir);
  } catch (const Xapian::Error& e) {
    throw std::runtime_error("no index at " + dir + ": " + e.get_msg());
  }
}

lexical_index::~lexical_index() = default;

std::vector<context_chunk> lexical_index::search(std::string_view query, std::size_t k) const {
  auto terms = query_terms(query);
  std::vector<context_chunk> out;
  if (terms.empty() || k == 0) return out;
  std::lock_guard lock(mu_);
  Xapian::Enquire enquire(*db_);
  enquire.set_query(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
  enquire.set_weighting_scheme(Xapian::BM25Weight(1.2, 0, 1, 0.75, 0.5));
  auto mset = enquire.get_mset(0, static_cast<Xapian::doccount>(k));
  for (auto it = mset.begin(); it != mset.end(); ++it) {
    out.push_back(decode(it.get_document().get_data()));
    out.back().score = it.get_weight();
  }
  return out;
}

std::string lexical_index::metadata(const std::string& key) const {
  std::lock_guard lock(mu_);
  return db_->get_metadata(key);
}

std::size_t lexical_index::size() const {
  std::lock_guard lock(mu_);
  return db_->get_doccount();
}

}  // namespace askd::rag
