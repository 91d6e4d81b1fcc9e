// bench/index_bench — askd's lexical index (scan, chunk, BM25) against SQLite
// FTS5 on the same chunks, in one run:
//   index_bench DIR [QUERIES]   (default DIR /usr/include/boost, 300 queries)
// Prints build time, reopen time and query latency p50/p99 for both.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "actors/parallel.hpp"
#include "core/config.hpp"
#include "rag/chunker.hpp"
#include "rag/file_filter.hpp"
#include "rag/lexical_index.hpp"
#include "rag/repo_scan.hpp"
#include "rag/repo_source.hpp"

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using namespace askd;

namespace {

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

struct latency {
  std::vector<double> ms;
  double pct(double p) {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
  }
};

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/usr/include/boost";
  int nq = argc > 2 ? std::atoi(argv[2]) : 300;
  core::load_options o;
  auto cfg = core::load_config(o);
  core::chat_request req;
  rag::file_filter filter(cfg.repo, req);
  auto work = fs::temp_directory_path() / ("askd-index-bench-" + std::to_string(::getpid()));
  fs::create_directories(work);

  // The same chunks feed both engines; scanning and chunking are timed once, apart.
  auto t0 = clock_type::now();
  auto scan = rag::scan_repo(dir, filter, cfg.repo);
  std::vector<rag::context_chunk> chunks;
  for (auto& f : scan.files)
    for (auto& c :
         rag::chunk_file(f.path, f.text, cfg.repo.chunk_words, cfg.repo.chunk_overlap_words))
      chunks.push_back(std::move(c));
  double scan_ms = ms_since(t0);
  std::printf("corpus: %s: %zu files, %.1f MB, %zu chunks; scan+chunk %.0f ms\n", dir.c_str(),
              scan.stats.files, scan.stats.bytes / 1e6, chunks.size(), scan_ms);

  // Queries: 2-3 identifiers drawn from random chunks, seeded.
  std::mt19937 rng(12345);
  std::vector<std::string> queries;
  while (static_cast<int>(queries.size()) < nq) {
    const auto& c = chunks[std::uniform_int_distribution<std::size_t>(0, chunks.size() - 1)(rng)];
    auto terms = rag::code_terms(c.text);
    if (terms.size() < 3) continue;
    std::string q;
    int n = std::uniform_int_distribution<int>(2, 3)(rng);
    for (int i = 0; i < n; ++i)
      q += terms[std::uniform_int_distribution<std::size_t>(0, terms.size() - 1)(rng)] + " ";
    queries.push_back(q);
  }

  // askd: its own index file with code-aware terms.
  auto xdir = (work / "xapian").string();
  t0 = clock_type::now();
  {
    // As askd's indexer does: one shard per core, each fed and finished by its own task.
    auto shards = askd::actors::index_shards();
    rag::index_writer w(xdir, shards);
    std::vector<std::function<void()>> tasks;
    for (std::size_t s = 0; s < shards; ++s)
      tasks.push_back([&, s] {
        for (std::size_t i = s; i < chunks.size(); i += shards) w.add(chunks[i], s);
        w.finish_shard(s);
      });
    askd::actors::thread_runner()(tasks);
    w.commit();
  }
  double x_build = ms_since(t0);
  t0 = clock_type::now();
  rag::lexical_index idx(xdir);
  (void)idx.search("warm", 1);
  double x_open = ms_since(t0);
  latency xl;
  std::size_t x_hits = 0;
  for (const auto& q : queries) {
    auto s = clock_type::now();
    x_hits += idx.search(q, 20).size();
    xl.ms.push_back(ms_since(s));
  }

  // SQLite FTS5 with its default tokenizer, one transaction, bm25 ranking.
  auto sdb = (work / "fts5.db").string();
  sqlite3* db = nullptr;
  t0 = clock_type::now();
  check(sqlite3_open(sdb.c_str(), &db), db, "open");
  check(sqlite3_exec(db,
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                     "CREATE VIRTUAL TABLE chunks USING fts5(path, body);",
                     nullptr, nullptr, nullptr),
        db, "create");
  check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
  sqlite3_stmt* ins = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO chunks(path, body) VALUES (?, ?)", -1, &ins, nullptr),
        db, "prepare");
  for (const auto& c : chunks) {
    sqlite3_bind_text(ins, 1, c.path.c_str(), static_cast<int>(c.path.size()), SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, c.text.c_str(), static_cast<int>(c.text.size()), SQLITE_STATIC);
    check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  sqlite3_close(db);
  double s_build = ms_since(t0);
  t0 = clock_type::now();
  check(sqlite3_open(sdb.c_str(), &db), db, "reopen");
  sqlite3_stmt* sel = nullptr;
  check(sqlite3_prepare_v2(
            db, "SELECT rowid FROM chunks WHERE chunks MATCH ? ORDER BY bm25(chunks) LIMIT 20", -1,
            &sel, nullptr),
        db, "prepare select");
  double s_open = ms_since(t0);
  latency sl;
  std::size_t s_hits = 0;
  for (const auto& q : queries) {
    // The same terms, OR-ed, each quoted for FTS5's query syntax.
    std::string m;
    for (const auto& t : rag::code_terms(q)) m += (m.empty() ? "\"" : " OR \"") + t + "\"";
    auto s = clock_type::now();
    sqlite3_bind_text(sel, 1, m.c_str(), static_cast<int>(m.size()), SQLITE_TRANSIENT);
    while (sqlite3_step(sel) == SQLITE_ROW) ++s_hits;
    sqlite3_reset(sel);
    sl.ms.push_back(ms_since(s));
  }
  sqlite3_finalize(sel);
  sqlite3_close(db);

  std::printf(
      "| engine | build ms | reopen ms | query p50 ms | query p99 ms | hits "
      "|\n|---|---|---|---|---|---|\n");
  std::printf("| askd (own format, code terms) | %.0f | %.1f | %.2f | %.2f | %zu |\n", x_build,
              x_open, xl.pct(0.5), xl.pct(0.99), x_hits);
  std::printf("| SQLite FTS5 (unicode61) | %.0f | %.1f | %.2f | %.2f | %zu |\n", s_build, s_open,
              sl.pct(0.5), sl.pct(0.99), s_hits);
  fs::remove_all(work);
  return 0;
}
