// Chunks with true line numbers, code-aware terms, and ranking on a fixture repo with
// known answers.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/config.hpp"
#include "rag/chunker.hpp"
#include "rag/durable.hpp"
#include "rag/extractive.hpp"
#include "rag/local_wiki.hpp"
#include "rag/lexical_index.hpp"
#include "rag/repo_source.hpp"
#include "rag/vector_index.hpp"
#include "tests/support/embedded_config.hpp"
#include "tests/support/temp_dir.hpp"

using namespace askd;
using namespace askd::rag;

namespace {
// The embedded configuration and the filter a plain request gets.
struct defaults {
  core::config cfg = test::embedded_config();
  core::chat_request request;
  file_filter filter{cfg.repo, request};
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text) {
    if (ch == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}
}  // namespace

TEST_CASE("every chunk's text is exactly its lines of the file and chunks cover the file") {
  std::mt19937 rng(7);
  std::string text;
  for (int block = 0; block < 60; ++block) {
    text += "void function_" + std::to_string(block) + "() {\n";
    int n = std::uniform_int_distribution<int>(1, 12)(rng);
    for (int i = 0; i < n; ++i)
      text += "  call_something(" + std::to_string(i) + ", alpha, beta, gamma);\n";
    text += "}\n\n";
  }
  auto lines = lines_of(text);
  auto chunks = chunk_file("src/x.cpp", text, 120, 30);
  REQUIRE(chunks.size() > 3);
  int covered = 0;
  for (const auto& c : chunks) {
    std::string expect;
    for (int l = c.start_line; l <= c.end_line; ++l)
      expect += lines[l - 1] + (l < c.end_line ? "\n" : "");
    CHECK(c.text == expect);
    CHECK(c.start_line <= covered + 1);  // no gap
    covered = std::max(covered, c.end_line);
    // Cuts fall after a closed block or at a blank line where one is near.
    auto last = lines[c.end_line - 1];
    if (c.end_line < static_cast<int>(lines.size())) CHECK((last.empty() || last == "}"));
  }
  CHECK(covered == static_cast<int>(lines.size()));
}

TEST_CASE("Markdown is cut at headings") {
  std::string md;
  for (int s = 0; s < 8; ++s) {
    md += "## Section " + std::to_string(s) + "\n\n";
    for (int i = 0; i < 6; ++i) md += "Some words about the section go here in a line.\n";
    md += "\n";
  }
  auto chunks = chunk_file("README.md", md, 100, 0);
  REQUIRE(chunks.size() > 2);
  for (std::size_t i = 1; i < chunks.size(); ++i) CHECK(chunks[i].text.rfind("## Section", 0) == 0);
}

TEST_CASE("code terms keep identifiers whole and split their parts") {
  auto t = code_terms("parseHTTPRequest compute_backoff_delay x v2Api");
  auto has = [&](const char* w) { return std::find(t.begin(), t.end(), w) != t.end(); };
  CHECK(has("parsehttprequest"));
  CHECK(has("parse"));
  CHECK(has("http"));
  CHECK(has("request"));
  CHECK(has("compute_backoff_delay"));
  CHECK(has("backoff"));
  CHECK(has("delay"));
  CHECK(has("v2api"));
  CHECK(has("api"));
  CHECK_FALSE(has("x"));
}

TEST_CASE("known questions find the right file in the top 3") {
  defaults d;
  const auto& c = d.cfg;
  const auto& f = d.filter;
  test::temp_dir dir;
  auto idx = build_repo_index(ASKD_FIXTURES "/minirepo", f, c.repo, dir.path, "k");
  REQUIRE(idx);
  struct known {
    const char* question;
    const char* file;
  };
  for (auto k :
       {known{"How is the backoff delay computed between retries?", "src/retry_policy.cpp"},
        known{"where does the websocket handshake happen", "src/http/websocket_session.cpp"},
        known{"How are clients rate limited? token bucket", "src/token_bucket.py"},
        known{"performHandshake", "src/http/websocket_session.cpp"}}) {
    auto hits = idx->index->search(k.question, 3);
    INFO(k.question);
    bool found = false;
    for (const auto& h : hits) found = found || h.path == k.file;
    CHECK(found);
  }
  // Excluded, ignored and binary files never appear.
  for (const auto& h : idx->index->search("backoff generated table min js left pad", 50)) {
    CHECK(h.path.find("generated/") == std::string::npos);
    CHECK(h.path.find("node_modules") == std::string::npos);
    CHECK(h.path.find(".min.js") == std::string::npos);
  }
}

TEST_CASE("the extractive answer says what it is and cites paths and lines") {
  defaults d;
  const auto& c = d.cfg;
  const auto& f = d.filter;
  test::temp_dir dir;
  auto idx = build_repo_index(ASKD_FIXTURES "/minirepo", f, c.repo, dir.path, "k");
  auto q = "How is the backoff delay computed?";
  auto pieces = extractive_answer(q, idx->index->search(q, 20), "minirepo");
  std::string all;
  for (const auto& p : pieces) all += p;
  CHECK(all.find("Extractive answer") != std::string::npos);
  CHECK(all.find("`src/retry_policy.cpp` lines") != std::string::npos);
  CHECK(all.find("compute_backoff_delay") != std::string::npos);
  CHECK(all.find("```cpp") != std::string::npos);
  CHECK(all.find("Computes the backoff delay") != std::string::npos);  // the comment as the note
  // What it would look at next: names the excerpts use that the question did not name.
  auto leads = extractive_leads(q, idx->index->search(q, 20));
  CHECK(leads.rfind("Next: `", 0) == 0);
  CHECK(leads.find("backoff") == std::string::npos);
  CHECK(leads.find("`return`") == std::string::npos);
  CHECK(extractive_leads(q, {}) == "Next: nothing");
  auto none = extractive_answer("zzqx", {}, "minirepo");
  REQUIRE(none.size() == 1);
  CHECK(none[0].find("Nothing in `minirepo` matches") != std::string::npos);
}

TEST_CASE("a built index reopens without a rebuild and a change of files rebuilds it") {
  defaults d;
  const auto& c = d.cfg;
  const auto& f = d.filter;
  test::temp_dir indexes, repo;
  std::filesystem::copy(ASKD_FIXTURES "/minirepo", repo.path,
                        std::filesystem::copy_options::recursive);
  auto first = build_repo_index(repo.path, f, c.repo, indexes.path, "key");
  REQUIRE(first);
  CHECK_FALSE(first->reopened);
  auto again = build_repo_index(repo.path, f, c.repo, indexes.path, "key");
  REQUIRE(again);
  CHECK(again->reopened);
  CHECK(again->dir == first->dir);
  CHECK(again->chunks == first->chunks);
  CHECK(again->index->search("backoff delay", 1).at(0).path == "src/retry_policy.cpp");
  // Another key (other filters, other token) never shares the index.
  CHECK(build_repo_index(repo.path, f, c.repo, indexes.path, "other")->dir != first->dir);
  // A new file changes the tree: rebuilt, and the new file is found.
  std::ofstream(repo.path + "/src/quota.cpp") << "int remaining_quota_for_tenant() { return 1; }\n";
  auto changed = build_repo_index(repo.path, f, c.repo, indexes.path, "key");
  CHECK_FALSE(changed->reopened);
  CHECK(changed->index->search("remaining quota tenant", 1).at(0).path == "src/quota.cpp");
}

TEST_CASE("a build stopped halfway leaves nothing that could be opened") {
  defaults d;
  const auto& c = d.cfg;
  const auto& f = d.filter;
  test::temp_dir indexes;
  std::atomic<bool> cancel{true};
  CHECK(build_repo_index(ASKD_FIXTURES "/minirepo", f, c.repo, indexes.path, "key", &cancel) ==
        nullptr);
  {
    index_writer w(indexes.path + "/half");
    w.add(context_chunk{"a.cpp", 1, 1, "int x;"});
    // destroyed without commit(), as a killed build would be
  }
  CHECK_FALSE(std::filesystem::exists(indexes.path + "/half"));
  CHECK_THROWS(lexical_index(indexes.path + "/half"));
  for (const auto& e : std::filesystem::directory_iterator(indexes.path))
    FAIL("left behind: " << e.path());
  auto built = build_repo_index(ASKD_FIXTURES "/minirepo", f, c.repo, indexes.path, "key");
  CHECK_FALSE(built->reopened);
}

TEST_CASE("an index written in shards ranks exactly as one written whole") {
  test::temp_dir dir;
  std::vector<context_chunk> chunks;
  std::mt19937 rng(3);
  const char* words[] = {"alpha",        "beta",   "gamma",  "retry_policy",
                         "backoffDelay", "socket", "stream", "token"};
  for (int i = 0; i < 300; ++i) {
    std::string text;
    int n = std::uniform_int_distribution<int>(3, 40)(rng);
    for (int w = 0; w < n; ++w)
      text += std::string(words[std::uniform_int_distribution<int>(0, 7)(rng)]) + " ";
    chunks.push_back(context_chunk{"src/f" + std::to_string(i % 17) + ".cpp", 1, 1, text});
  }
  {
    index_writer one(dir.path + "/one");
    for (const auto& c : chunks) one.add(c);
    one.commit();
    index_writer three(dir.path + "/three", 3);
    for (std::size_t i = 0; i < chunks.size(); ++i) three.add(chunks[i], i % 3);
    three.set_metadata("k", "v");
    three.commit();
  }
  lexical_index a(dir.path + "/one"), b(dir.path + "/three");
  CHECK(b.size() == a.size());
  CHECK(b.metadata("k") == "v");
  for (const char* q : {"retry policy", "backoff delay socket", "gamma token stream", "alpha"}) {
    auto x = a.search(q, 10);
    auto y = b.search(q, 10);
    INFO(q);
    REQUIRE(x.size() == y.size());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i].score == Approx(y[i].score));
  }
}

TEST_CASE("a damaged index file is refused on open and rebuilt") {
  defaults d;
  const auto& c = d.cfg;
  const auto& f = d.filter;
  test::temp_dir indexes;
  auto built = build_repo_index(ASKD_FIXTURES "/minirepo", f, c.repo, indexes.path, "key");
  REQUIRE(built);
  auto file = built->dir + "/index-0.askd";
  auto size = std::filesystem::file_size(file);
  {
    // Overwrite the middle of the file (tables and postings) with 0xFF, same size.
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(size / 2));
    std::string junk(std::min<std::uintmax_t>(size / 2, 4096), '\xff');
    io.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  CHECK_THROWS_WITH(lexical_index(built->dir), Catch::Contains("damaged"));
  auto again = build_repo_index(ASKD_FIXTURES "/minirepo", f, c.repo, indexes.path, "key");
  REQUIRE(again);
  CHECK_FALSE(again->reopened);
  CHECK(again->index->search("backoff delay", 1).at(0).path == "src/retry_policy.cpp");
}

TEST_CASE("an index reaches the disk body first, header next, rename last") {
  // What a power loss can leave depends on this order: a shard's body is synced while
  // its header is still the placeholder (not an index), the header is synced before the
  // directory is renamed into place, and the rename is synced in its parent.
  test::temp_dir dir;
  std::vector<std::string> steps;
  auto header_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    return std::string(magic, 4) == "ASKD" ? "index" : "placeholder";
  };
  durable::set_trace([&](std::string_view step, const std::string& path) {
    auto name = std::filesystem::path(path).filename().string();
    if (step == "sync")
      steps.push_back("sync " + name.substr(0, name.find('.')) + " " + header_of(path));
    else
      steps.push_back(std::string(step) + (path == dir.path ? " parent" : " " + name));
  });
  {
    index_writer w(dir.path + "/idx", 2);
    w.add(context_chunk{"a.cpp", 1, 1, "int alpha;"}, 0);
    w.add(context_chunk{"b.cpp", 1, 1, "int beta;"}, 1);
    w.commit();
  }
  durable::set_trace({});
  // The tmp directory's name varies: keep only what kind of step it was.
  for (auto& s : steps)
    if (s.rfind("sync_dir idx.tmp-", 0) == 0) s = "sync_dir tmp";
  CHECK(steps == std::vector<std::string>{"sync index-0 placeholder", "sync index-0 index",
                                          "sync index-1 placeholder", "sync index-1 index",
                                          "sync_dir tmp", "rename idx", "sync_dir parent"});
  CHECK(lexical_index(dir.path + "/idx").size() == 2);

  steps.clear();
  durable::set_trace([&](std::string_view step, const std::string& path) {
    steps.push_back(std::string(step) + " " + std::filesystem::path(path).filename().string());
  });
  vector_index::write(dir.path + "/v.f32", {{1.0f, 2.0f}});
  durable::set_trace({});
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].rfind("sync v.f32.tmp-", 0) == 0);
  CHECK(steps[1] == "rename v.f32");
  CHECK(steps[2].rfind("sync_dir ", 0) == 0);
  CHECK(vector_index::open(dir.path + "/v.f32"));
}

TEST_CASE("the local provider answers deepwiki-open's wiki-structure prompt from its file tree") {
  // The prompt as deepwiki-open's repository page writes it (abridged).
  auto prompt = [](bool comprehensive) {
    return std::string("Analyze this GitHub repository askd/minirepo and create a wiki structure for it.\n\n"
                       "1. The complete file tree of the project:\n<file_tree>\nREADME.md\nkeep.txt\n"
                       "src/http/websocket_session.cpp\nsrc/retry_policy.cpp\nsrc/a<b>&.py\n"
                       "docs/guide.md\n</file_tree>\n\n2. The README file of the project:\n<readme>\n"
                       "# minirepo\n\nA small repository used by askd's tests.\n</readme>\n\n"
                       "Return your analysis in the following XML format:\n\n<wiki_structure>\n") +
           (comprehensive ? "  <sections>\n" : "") + "  <title>[Overall title]</title>\n</wiki_structure>";
  };
  auto x = askd::rag::local_wiki_structure(prompt(false));
  REQUIRE(x);
  CHECK(x->rfind("<wiki_structure>\n  <title>askd/minirepo wiki</title>", 0) == 0);
  CHECK(x->find("<description>A small repository used by askd&apos;s tests.</description>") ==
            std::string::npos);  // apostrophes need no escaping in text
  CHECK(x->find("<description>A small repository used by askd's tests.</description>") !=
        std::string::npos);
  // An overview with the root's files, then the largest directory first.
  CHECK(x->find("<page id=\"page-1\">\n      <title>Overview</title>") != std::string::npos);
  CHECK(x->find("<file_path>README.md</file_path>") != std::string::npos);
  CHECK(x->find("<page id=\"page-2\">\n      <title>Src</title>") != std::string::npos);
  CHECK(x->find("<page id=\"page-3\">\n      <title>Docs</title>") != std::string::npos);
  CHECK(x->find("<file_path>src/a&lt;b&gt;&amp;.py</file_path>") != std::string::npos);
  CHECK(x->find("<sections>") == std::string::npos);
  CHECK(x->substr(x->size() - 18) == "</wiki_structure>\n");
  auto comprehensive = askd::rag::local_wiki_structure(prompt(true));
  REQUIRE(comprehensive);
  CHECK(comprehensive->find("<section_ref>") == std::string::npos);
  CHECK(comprehensive->find("<page_ref>page-3</page_ref>") != std::string::npos);
  CHECK(comprehensive->find("<parent_section>section-2</parent_section>") != std::string::npos);
  CHECK(!askd::rag::local_wiki_structure("How does the <file_tree> work?"));
}
