#include "rag/lexical_index.hpp"

#include "rag/durable.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

namespace askd::rag {
namespace {

bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
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

// The tokenizer, inlined into its callers (the index build calls it per term).
template <class Fn>
void terms_of(std::string_view text, std::string& buf, Fn&& fn) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (!ident_char(text[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < text.size() && ident_char(text[i])) ++i;
    std::string_view ident = text.substr(start, i - start);
    if (ident.size() < 2) continue;
    buf.assign(ident);
    for (auto& c : buf)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    fn(buf);
    // Parts: split at '_', lower→Upper, Upper→Upper+lower, letter↔digit.
    std::string_view parts[32];
    std::size_t n = 0;
    std::size_t from = 0;
    for (std::size_t j = 1; j <= ident.size(); ++j) {
      bool cut =
          j == ident.size() || ident[j] == '_' || ident[j - 1] == '_' ||
          (lower(ident[j - 1]) && upper(ident[j])) ||
          (upper(ident[j - 1]) && upper(ident[j]) && j + 1 < ident.size() && lower(ident[j + 1])) ||
          (digit(ident[j - 1]) != digit(ident[j]));
      if (!cut) continue;
      std::string_view part(buf.data() + from, j - from);
      if (part != "_" && n < 32) parts[n++] = part;
      from = j;
    }
    if (n > 1)
      for (std::size_t k = 0; k < n; ++k)
        if (parts[k].size() >= 2) fn(parts[k]);
  }
}

void for_each_term(std::string_view text, const std::function<void(std::string_view)>& fn) {
  std::string buf;
  terms_of(text, buf, fn);
}

std::vector<std::string> code_terms(std::string_view text) {
  std::vector<std::string> out;
  for_each_term(text, [&](std::string_view t) { out.emplace_back(t); });
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

// ---- the file ----------------------------------------------------------------------
//   header | term table (sorted by term) | term strings | postings | chunk lengths |
//   chunk table | chunk blob (path, text) | metadata ("key\0value\0"...)
namespace {

using durable::write_all;

constexpr char magic[8] = {'A', 'S', 'K', 'D', 'I', 'X', '0', '1'};
// BM25 parameters, the usual ones.
constexpr double k1 = 1.2;
constexpr double b = 0.75;

struct file_header {
  char magic[8];
  std::uint64_t chunks, terms, postings;
  double avg_length;
  std::uint64_t terms_off, strings_off, postings_off, lengths_off, chunks_off, blob_off, meta_off,
      meta_len, total;
};

struct term_entry {
  std::uint64_t str_off;
  std::uint32_t str_len;
  std::uint32_t df;
  std::uint64_t post_off;  // index into the postings array
};

struct file_posting {
  std::uint32_t chunk;
  std::uint32_t tf;
};

struct file_chunk {
  std::uint64_t off;
  std::uint32_t path_len, text_len, start_line, end_line;
};

std::uint64_t align8(std::uint64_t x) {
  return (x + 7) & ~std::uint64_t{7};
}

}  // namespace

struct lexical_index::layout {
  const void* map = nullptr;
  std::size_t bytes = 0;
  ~layout() {
    if (map) ::munmap(const_cast<void*>(map), bytes);
  }
  const file_header* h;
  const term_entry* terms;
  const char* strings;
  const file_posting* postings;
  const std::uint32_t* lengths;
  const file_chunk* chunks;
  const char* blob;
  const char* meta;
};

class index_writer::shard {
 public:
  explicit shard(std::string path);
  ~shard();
  void add(const context_chunk& chunk);
  // Writes the tables and the header; `meta` goes into this shard's file.
  void finish(const std::string& meta);
  bool finished() const { return fd_ < 0; }

 private:
  std::uint32_t term_id(std::string_view term);
  void flush_blob();

  struct chunk_entry {
    std::uint64_t off;
    std::uint32_t path_len, text_len, start_line, end_line;
  };
  // The term dictionary: open addressing over (hash tag, id) slots; the terms' bytes live
  // in one arena. Cheaper than a node-based map for tens of millions of lookups.
  struct slot {
    std::uint32_t tag = 0;          // high bits of the term's hash
    std::uint32_t id_plus_one = 0;  // 0: empty
  };
  // Every (term, chunk, tf) in arrival order, grouped by term at finish (a counting
  // sort): one array instead of a growing vector per term.
  struct entry {
    std::uint32_t term, chunk, tf;
  };

  std::string path_;
  int fd_ = -1;
  std::uint64_t blob_start_ = 0;
  std::uint64_t blob_written_ = 0;
  std::vector<slot> slots_ = std::vector<slot>(1 << 16);
  std::string arena_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> term_at_;  // id -> (arena offset, length)
  std::vector<entry> entries_;
  std::vector<std::uint64_t> last_entry_;  // by term: its latest entry, to bump tf
  std::vector<std::uint32_t> lengths_;     // terms per chunk
  std::vector<chunk_entry> chunks_;
  std::string blob_;  // each chunk's path then text, not yet written
  std::string term_buf_;
};

index_writer::index_writer(std::string dir, std::size_t shards) : dir_(std::move(dir)) {
  tmp_ = durable::temporary_name(dir_, ".tmp-");
  std::filesystem::create_directories(tmp_);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, shards); ++i)
    shards_.push_back(std::make_unique<shard>(tmp_ + "/index-" + std::to_string(i) + ".askd"));
}

index_writer::~index_writer() {
  shards_.clear();
  if (committed_) return;
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
}

void index_writer::add(const context_chunk& chunk, std::size_t s) {
  shards_.at(s)->add(chunk);
}

void index_writer::finish_shard(std::size_t s) {
  // Metadata lives in shard 0's file.
  std::string meta;
  if (s == 0)
    for (const auto& [k, v] : metadata_) {
      meta += k;
      meta += '\0';
      meta += v;
      meta += '\0';
    }
  shards_.at(s)->finish(meta);
}

void index_writer::set_metadata(const std::string& key, const std::string& value) {
  metadata_.emplace_back(key, value);
}

index_writer::shard::shard(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot create " + path_);
  // The header is written last, over this placeholder; the chunk blob follows it and
  // is streamed out as chunks arrive.
  file_header placeholder{};
  write_all(fd_, &placeholder, sizeof placeholder, path_);
  blob_start_ = sizeof(file_header);
}

index_writer::shard::~shard() {
  if (fd_ >= 0) ::close(fd_);
}

void index_writer::shard::flush_blob() {
  write_all(fd_, blob_.data(), blob_.size(), path_);
  blob_written_ += blob_.size();
  blob_.clear();
}

namespace {
std::uint64_t term_hash(std::string_view s) {
  // Eight bytes at a time, then a final mix: terms are short, lookups are many.
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xff51afd7ed558ccdULL);
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0x94d049bb133111ebULL;
  return h ^ (h >> 29);
}
}  // namespace

std::uint32_t index_writer::shard::term_id(std::string_view term) {
  auto h = term_hash(term);
  auto tag = static_cast<std::uint32_t>(h >> 32);
  auto mask = slots_.size() - 1;
  for (auto i = h & mask;; i = (i + 1) & mask) {
    auto& sl = slots_[i];
    if (sl.id_plus_one == 0) {
      auto id = static_cast<std::uint32_t>(term_at_.size());
      sl = {tag, id + 1};
      term_at_.emplace_back(arena_.size(), static_cast<std::uint32_t>(term.size()));
      arena_ += term;
      last_entry_.push_back(~std::uint64_t{0});
      if (term_at_.size() * 2 > slots_.size()) {  // keep the load under one half
        std::vector<slot> bigger(slots_.size() * 2);
        auto m = bigger.size() - 1;
        for (const auto& o : slots_) {
          if (o.id_plus_one == 0) continue;
          const auto& [off, len] = term_at_[o.id_plus_one - 1];
          auto j = term_hash(std::string_view(arena_.data() + off, len)) & m;
          while (bigger[j].id_plus_one != 0) j = (j + 1) & m;
          bigger[j] = o;
        }
        slots_.swap(bigger);
      }
      return id;
    }
    if (sl.tag == tag) {
      const auto& [off, len] = term_at_[sl.id_plus_one - 1];
      if (std::string_view(arena_.data() + off, len) == term) return sl.id_plus_one - 1;
    }
  }
}

void index_writer::shard::add(const context_chunk& chunk) {
  auto id = static_cast<std::uint32_t>(chunks_.size());
  std::uint32_t length = 0;
  // Postings stay in chunk order: a term seen again in this chunk bumps its last tf.
  auto count = [&](std::uint32_t term, std::uint32_t times) {
    auto& last = last_entry_[term];
    if (last != ~std::uint64_t{0} && entries_[last].chunk == id) {
      entries_[last].tf += times;
    } else {
      last = entries_.size();
      entries_.push_back({term, id, times});
    }
    length += times;
  };
  terms_of(chunk.text, term_buf_, [&](std::string_view t) { count(term_id(t), 1); });
  // Path components weigh like three mentions in the text.
  terms_of(chunk.path, term_buf_, [&](std::string_view t) { count(term_id(t), 3); });
  lengths_.push_back(length);
  chunks_.push_back({blob_written_ + blob_.size(), static_cast<std::uint32_t>(chunk.path.size()),
                     static_cast<std::uint32_t>(chunk.text.size()),
                     static_cast<std::uint32_t>(chunk.start_line),
                     static_cast<std::uint32_t>(chunk.end_line)});
  blob_ += chunk.path;
  blob_ += chunk.text;
  if (blob_.size() > (1 << 20)) flush_blob();
}

void index_writer::shard::finish(const std::string& meta) {
  // Terms sorted, so a reader finds one by binary search.
  std::vector<std::pair<std::string_view, std::uint32_t>> sorted;
  sorted.reserve(term_at_.size());
  for (std::uint32_t id = 0; id < term_at_.size(); ++id)
    sorted.emplace_back(std::string_view(arena_.data() + term_at_[id].first, term_at_[id].second),
                        id);
  std::sort(sorted.begin(), sorted.end());

  file_header h{};
  std::memcpy(h.magic, magic, sizeof magic);
  h.chunks = chunks_.size();
  h.terms = sorted.size();
  double total_len = 0;
  for (auto l : lengths_) total_len += l;
  // Unclamped: the reader combines shards by chunk count and clamps the result.
  h.avg_length = lengths_.empty() ? 0 : total_len / static_cast<double>(lengths_.size());
  // Group the entries by term (counting sort: stable, so each term's chunks stay in order).
  std::vector<std::uint64_t> start(term_at_.size() + 1, 0);
  for (const auto& e : entries_) ++start[e.term + 1];
  for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  std::vector<file_posting> grouped(entries_.size());
  {
    auto fill = start;
    for (const auto& e : entries_) grouped[fill[e.term]++] = {e.chunk, e.tf};
    entries_.clear();
    entries_.shrink_to_fit();
  }
  std::vector<term_entry> table(sorted.size());
  std::string strings;
  std::uint64_t post = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    auto id = sorted[i].second;
    auto df = start[id + 1] - start[id];
    table[i] = {strings.size(), static_cast<std::uint32_t>(sorted[i].first.size()),
                static_cast<std::uint32_t>(df), post};
    strings += sorted[i].first;
    post += df;
  }
  h.postings = post;
  flush_blob();
  const auto& path = path_;
  h.blob_off = blob_start_;
  h.terms_off = align8(h.blob_off + blob_written_);
  h.strings_off = align8(h.terms_off + table.size() * sizeof(term_entry));
  h.postings_off = align8(h.strings_off + strings.size());
  h.lengths_off = align8(h.postings_off + post * sizeof(file_posting));
  h.chunks_off = align8(h.lengths_off + lengths_.size() * sizeof(std::uint32_t));
  h.meta_off = align8(h.chunks_off + chunks_.size() * sizeof(file_chunk));
  h.meta_len = meta.size();
  h.total = h.meta_off + meta.size();

  std::uint64_t at = h.blob_off + blob_written_;
  auto put = [&](std::uint64_t off, const void* data, std::size_t n) {
    static const char zeros[8] = {};
    write_all(fd_, zeros, off - at, path);  // alignment padding
    write_all(fd_, data, n, path);
    at = off + n;
  };
  put(h.terms_off, table.data(), table.size() * sizeof(term_entry));
  put(h.strings_off, strings.data(), strings.size());
  {
    // Term by term in the table's (sorted) order, through a buffer.
    write_all(fd_, "\0\0\0\0\0\0\0\0", h.postings_off - at, path);
    std::vector<file_posting> buf;
    buf.reserve(1 << 16);
    for (const auto& [term, id] : sorted) {
      for (auto i = start[id]; i < start[id + 1]; ++i) {
        buf.push_back(grouped[i]);
        if (buf.size() == buf.capacity()) {
          write_all(fd_, buf.data(), buf.size() * sizeof(file_posting), path);
          buf.clear();
        }
      }
    }
    write_all(fd_, buf.data(), buf.size() * sizeof(file_posting), path);
    at = h.postings_off + post * sizeof(file_posting);
  }
  put(h.lengths_off, lengths_.data(), lengths_.size() * sizeof(std::uint32_t));
  {
    std::vector<file_chunk> ct(chunks_.size());
    for (std::size_t i = 0; i < chunks_.size(); ++i)
      ct[i] = {chunks_[i].off, chunks_[i].path_len, chunks_[i].text_len, chunks_[i].start_line,
               chunks_[i].end_line};
    put(h.chunks_off, ct.data(), ct.size() * sizeof(file_chunk));
  }
  put(h.meta_off, meta.data(), meta.size());
  // Last, the header: until it is there the file is not an index. The body reaches the
  // disk before it, the header before the directory is renamed into place (commit).
  durable::sync(fd_, path);
  if (::pwrite(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot write " + path);
  }
  durable::sync(fd_, path);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw std::runtime_error("cannot write " + path);
  }
  fd_ = -1;
  // The tables are on disk now; free them while other shards finish.
  std::vector<slot>().swap(slots_);
  std::string().swap(arena_);
  std::vector<std::pair<std::uint64_t, std::uint32_t>>().swap(term_at_);
  std::vector<std::uint64_t>().swap(last_entry_);
  std::vector<std::uint32_t>().swap(lengths_);
  std::vector<chunk_entry>().swap(chunks_);
}

void index_writer::commit() {
  for (std::size_t i = 0; i < shards_.size(); ++i)
    if (!shards_[i]->finished()) finish_shard(i);
  // The shard files' names are on disk before the directory that holds them is renamed
  // into place, and the rename is on disk (durable::rename syncs the parent) before the
  // index is used.
  durable::sync_dir(tmp_);
  std::error_code ec;
  if (!durable::rename(tmp_, dir_)) {
    // Someone finished the same index first (or a broken one is there): keep a usable
    // one, else replace it.
    bool usable = false;
    try {
      lexical_index probe(dir_);
      usable = true;
    } catch (const std::exception&) {
    }
    if (usable) {
      std::filesystem::remove_all(tmp_, ec);
    } else {
      std::filesystem::remove_all(dir_, ec);
      if (!durable::rename(tmp_, dir_)) throw std::runtime_error("cannot rename into " + dir_);
    }
  }
  committed_ = true;
}

namespace {

// Maps one shard file; nullptr when there is no file at `path`.
std::unique_ptr<lexical_index::layout> map_shard(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < sizeof(file_header)) {
    ::close(fd);
    throw std::runtime_error("not an index: " + path);
  }
  auto l = std::make_unique<lexical_index::layout>();
  l->bytes = static_cast<std::size_t>(st.st_size);
  void* m = ::mmap(nullptr, l->bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw std::runtime_error("cannot map " + path);
  l->map = m;
  auto base = static_cast<const char*>(m);
  l->h = reinterpret_cast<const file_header*>(base);
  if (std::memcmp(l->h->magic, magic, sizeof magic) != 0 || l->h->total != l->bytes)
    throw std::runtime_error("not a complete index: " + path);
  l->terms = reinterpret_cast<const term_entry*>(base + l->h->terms_off);
  l->strings = base + l->h->strings_off;
  l->postings = reinterpret_cast<const file_posting*>(base + l->h->postings_off);
  l->lengths = reinterpret_cast<const std::uint32_t*>(base + l->h->lengths_off);
  l->chunks = reinterpret_cast<const file_chunk*>(base + l->h->chunks_off);
  l->blob = base + l->h->blob_off;
  l->meta = base + l->h->meta_off;
  // Everything the reader will follow must stay inside the file: a damaged file is
  // refused here, never read past its end later.
  const auto& h = *l->h;
  const std::uint64_t size = l->bytes;
  auto within = [&](std::uint64_t off, std::uint64_t count, std::uint64_t item) {
    return off <= size && count <= size && count * item <= size - off;
  };
  bool ok = within(h.blob_off, 0, 1) && h.blob_off <= h.terms_off &&
            within(h.terms_off, h.terms, sizeof(term_entry)) && h.strings_off <= h.postings_off &&
            within(h.strings_off, h.postings_off - h.strings_off, 1) &&
            within(h.postings_off, h.postings, sizeof(file_posting)) &&
            within(h.lengths_off, h.chunks, sizeof(std::uint32_t)) &&
            within(h.chunks_off, h.chunks, sizeof(file_chunk)) &&
            within(h.meta_off, h.meta_len, 1) &&
            (h.meta_len == 0 || base[h.meta_off + h.meta_len - 1] == '\0') &&
            std::isfinite(h.avg_length) && h.avg_length >= 0;
  const std::uint64_t strings_size = h.postings_off - h.strings_off;
  const std::uint64_t blob_size = h.terms_off - h.blob_off;
  for (std::uint64_t i = 0; ok && i < h.terms; ++i) {
    const auto& e = l->terms[i];
    ok = e.str_off <= strings_size && e.str_len <= strings_size - e.str_off &&
         e.post_off <= h.postings && e.df <= h.postings - e.post_off;
  }
  for (std::uint64_t i = 0; ok && i < h.postings; ++i) ok = l->postings[i].chunk < h.chunks;
  for (std::uint64_t i = 0; ok && i < h.chunks; ++i) {
    const auto& c = l->chunks[i];
    ok = c.off <= blob_size && std::uint64_t{c.path_len} + c.text_len <= blob_size - c.off;
  }
  if (!ok) throw std::runtime_error("a damaged index: " + path);
  return l;
}

// The term's entry in one shard, or nullptr.
const term_entry* find_term(const lexical_index::layout& l, std::string_view t) {
  std::size_t lo = 0, hi = l.h->terms;
  while (lo < hi) {
    auto mid = (lo + hi) / 2;
    std::string_view m(l.strings + l.terms[mid].str_off, l.terms[mid].str_len);
    if (m < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == l.h->terms) return nullptr;
  const auto& e = l.terms[lo];
  return std::string_view(l.strings + e.str_off, e.str_len) == t ? &e : nullptr;
}

}  // namespace

lexical_index::lexical_index(const std::string& dir) {
  for (std::size_t i = 0;; ++i) {
    auto shard = map_shard(dir + "/index-" + std::to_string(i) + ".askd");
    if (!shard) break;
    shards_.push_back(std::move(shard));
  }
  if (shards_.empty()) throw std::runtime_error("no index at " + dir);
  double total_length = 0;
  for (const auto& sh : shards_) {
    total_chunks_ += static_cast<double>(sh->h->chunks);
    total_length += sh->h->avg_length * static_cast<double>(sh->h->chunks);
  }
  avg_length_ = total_chunks_ > 0 ? std::max(1.0, total_length / total_chunks_) : 1.0;
}

lexical_index::~lexical_index() = default;

namespace {

context_chunk chunk_of(const lexical_index::layout& l, std::size_t i) {
  const auto& c = l.chunks[i];
  context_chunk chunk;
  chunk.path.assign(l.blob + c.off, c.path_len);
  chunk.text.assign(l.blob + c.off + c.path_len, c.text_len);
  chunk.start_line = static_cast<int>(c.start_line);
  chunk.end_line = static_cast<int>(c.end_line);
  return chunk;
}

}  // namespace

std::vector<context_chunk> lexical_index::search(std::string_view query, std::size_t k) const {
  std::vector<context_chunk> out;
  auto terms = query_terms(query);
  if (terms.empty() || k == 0) return out;
  // Scores accumulate in a dense array per shard (one slot per chunk) with a list of the
  // chunks touched: far cheaper than a hash map when common terms match most chunks.
  // Document frequencies and lengths are index-wide, so shards rank as one index would.
  std::vector<std::vector<float>> scores(shards_.size());
  for (std::size_t s = 0; s < shards_.size(); ++s) scores[s].assign(shards_[s]->h->chunks, 0.0f);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> touched;  // (shard, chunk)
  const double norm_base = k1 * (1 - b);
  const double norm_len = k1 * b / avg_length_;
  std::vector<const term_entry*> found(shards_.size());
  for (const auto& t : terms) {
    double df = 0;
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      found[s] = find_term(*shards_[s], t);
      if (found[s]) df += found[s]->df;
    }
    if (df == 0) continue;
    double idf = std::log(1.0 + (total_chunks_ - df + 0.5) / (df + 0.5));
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      if (!found[s]) continue;
      const auto& l = *shards_[s];
      const auto* p = l.postings + found[s]->post_off;
      auto& sc = scores[s];
      for (std::uint32_t i = 0; i < found[s]->df; ++i) {
        double tf = p[i].tf;
        double norm = tf + norm_base + norm_len * l.lengths[p[i].chunk];
        auto& v = sc[p[i].chunk];
        if (v == 0.0f) touched.emplace_back(static_cast<std::uint32_t>(s), p[i].chunk);
        v += static_cast<float>(idf * tf * (k1 + 1) / norm);
      }
    }
  }
  struct hit {
    double score;
    std::uint32_t shard, chunk;
  };
  std::vector<hit> ranked;
  ranked.reserve(touched.size());
  for (auto [s, c] : touched) ranked.push_back({scores[s][c], s, c});
  auto top = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(top), ranked.end(),
                    [](const hit& a, const hit& c) {
                      if (a.score != c.score) return a.score > c.score;
                      return a.shard != c.shard ? a.shard < c.shard : a.chunk < c.chunk;
                    });
  out.reserve(top);
  for (std::size_t i = 0; i < top; ++i) {
    auto chunk = chunk_of(*shards_[ranked[i].shard], ranked[i].chunk);
    chunk.score = ranked[i].score;
    out.push_back(std::move(chunk));
  }
  return out;
}

context_chunk lexical_index::chunk(std::size_t i) const {
  for (const auto& l : shards_) {
    if (i >= l->h->chunks) {
      i -= l->h->chunks;
      continue;
    }
    return chunk_of(*l, i);
  }
  throw std::out_of_range("lexical_index::chunk: no chunk " + std::to_string(i));
}

std::string lexical_index::metadata(const std::string& key) const {
  const char* p = shards_[0]->meta;
  const char* end = p + shards_[0]->h->meta_len;
  while (p < end) {
    std::string_view k(p);
    p += k.size() + 1;
    std::string_view v(p);
    p += v.size() + 1;
    if (k == key) return std::string(v);
  }
  return {};
}

std::size_t lexical_index::size() const {
  return static_cast<std::size_t>(total_chunks_);
}

}  // namespace askd::rag
