// Which files are read: globs, directory rules relative to the root, inclusion mode,
// .gitignore — each of deepwiki-open's filter bugs as a case.
#include <catch2/catch.hpp>

#include "core/config.hpp"
#include "rag/file_filter.hpp"
#include "rag/glob.hpp"
#include "rag/repo_scan.hpp"
#include "tests/support/embedded_config.hpp"

using namespace askd;
using namespace askd::rag;

TEST_CASE("globs match as gitignore does") {
  CHECK(glob_match("*.min.js", "app.min.js"));
  CHECK_FALSE(glob_match("*.min.js", "app.js"));
  CHECK_FALSE(glob_match("*.js", "web/app.js"));  // '*' does not cross '/'
  CHECK(glob_match("**/*.js", "web/app.js"));
  CHECK(glob_match("**/*.js", "app.js"));
  CHECK(glob_match("a/**/b", "a/b"));
  CHECK(glob_match("a/**/b", "a/x/y/b"));
  CHECK(glob_match("logs/**", "logs/x/y"));
  CHECK(glob_match("packages/*/dist", "packages/ui/dist"));
  CHECK(glob_match("file[0-9].txt", "file7.txt"));
  CHECK_FALSE(glob_match("file[!0-9].txt", "file7.txt"));
  CHECK(glob_match(".env.*", ".env.local"));
  CHECK(glob_match("?.c", "a.c"));
}

namespace {
std::string repeat(std::string_view s, int n) {
  std::string out;
  while (n-- > 0) out += s;
  return out;
}
}  // namespace

TEST_CASE("globs follow git for double asterisks and escapes and classes") {
  CHECK(glob_match("**", "a/b/c"));
  CHECK(glob_match("**/x", "x"));
  CHECK(glob_match("**/x", "a/b/x"));
  CHECK_FALSE(glob_match("**/x", "a/bx"));
  CHECK(glob_match("x/**", "x/y"));
  CHECK(glob_match("x/**", "x/"));
  CHECK_FALSE(glob_match("x/**", "x"));  // what is inside x, not x itself
  CHECK(glob_match("a/**/**/b", "a/b"));
  CHECK(glob_match("a/***/b", "a/x/y/b"));  // three asterisks alone are "**" too
  // Other runs of asterisks are a plain '*', which never crosses '/'.
  CHECK(glob_match("a**b", "axyb"));
  CHECK_FALSE(glob_match("a**b", "a/b"));
  CHECK(glob_match("a**/b", "ax/b"));
  CHECK_FALSE(glob_match("a**/b", "a/x/b"));
  CHECK_FALSE(glob_match("**x", "a/x"));
  CHECK(glob_match("\\*.c", "*.c"));
  CHECK_FALSE(glob_match("\\*.c", "a.c"));
  CHECK(glob_match("a\\/b", "a/b"));  // an escaped '/' is a '/'
  CHECK(glob_match("[]a]", "]"));
  CHECK(glob_match("[\\]]", "]"));
  CHECK(glob_match("[^a]", "b"));
  CHECK_FALSE(glob_match("[^a]", "a"));
  CHECK(glob_match("[a-]", "-"));
  CHECK_FALSE(glob_match("[!x]", "/"));  // a class never matches '/'
  CHECK(glob_match("a[b", "a[b"));       // an unclosed '[' is a literal
  CHECK(glob_match("*[", "x["));
}

// Each pattern here makes a backtracking matcher try more combinations than it could in
// hours (ctest's timeout fails it); a polynomial one answers at once. Nothing is timed.
TEST_CASE("glob bombs get the right answer from a polynomial matcher") {
  auto stars = repeat("*", 40) + "ub";
  CHECK(glob_match(stars, repeat("a", 60) + "ub"));
  CHECK_FALSE(glob_match(stars, repeat("a", 60) + "uc"));
  CHECK_FALSE(glob_match(stars, "src/" + repeat("a", 60) + "ub"));  // '*' stays in a segment
  CHECK(glob_match(repeat("a*", 30), repeat("a", 60) + "b"));
  CHECK_FALSE(glob_match(repeat("a*", 30) + "c", repeat("a", 60) + "b"));
  CHECK_FALSE(glob_match(repeat("a*", 30), repeat("a", 29)));
  auto deep = repeat("d/", 60);
  CHECK(glob_match(repeat("**/", 30) + "x", deep + "x"));
  CHECK_FALSE(glob_match(repeat("**/", 30) + "x", deep + "y"));
  CHECK_FALSE(glob_match(repeat("**/d/", 30) + "x", deep + "y"));
  CHECK(glob_match(repeat("**/d/", 30) + "x", deep + "x"));
  CHECK_FALSE(glob_match(repeat("**/d/", 61) + "x", deep + "x"));  // one d too many
  CHECK_FALSE(glob_match(repeat("[a-z]*", 30) + "[!a-z]", repeat("a", 80)));
  CHECK(glob_match(repeat("[a-z]*", 30) + "[!a-z]", repeat("a", 80) + "7"));
  CHECK_FALSE(glob_match(repeat("?*", 40) + "!", repeat("q", 90)));
  CHECK_FALSE(glob_match(repeat("[", 500), repeat("[", 499)));  // unclosed classes stay cheap
  CHECK(glob_match(repeat("[", 500), repeat("[", 500)));
}

TEST_CASE("default exclusions: file globs match and directory rules match path components") {
  auto c = test::embedded_config();
  core::chat_request r;
  file_filter f(c.repo, r);
  CHECK_FALSE(f.keep_file("web/app.min.js"));  // deepwiki-open kept these
  CHECK_FALSE(f.keep_file("style.bundle.css"));
  CHECK(f.keep_file("web/app.js"));
  CHECK(f.keep_file("src/main.cpp"));
  CHECK_FALSE(f.keep_file("Makefile"));  // no known extension
  CHECK(f.skip_dir("node_modules"));
  CHECK(f.skip_dir("lib/node_modules"));  // at any depth
  CHECK(f.skip_dir("lib/build"));
  CHECK_FALSE(f.skip_dir("src"));
  CHECK_FALSE(f.skip_dir("buildtools"));  // a component equal to the rule, not a prefix
  CHECK(f.skip_dir(".git"));
}

TEST_CASE("request filters add to the defaults; inclusion replaces them") {
  auto c = test::embedded_config();
  core::chat_request r;
  r.excluded_dirs = "src/gen, vendor\n";
  r.excluded_files = "*_test.cpp";
  file_filter f(c.repo, r);
  CHECK(f.skip_dir("src/gen"));
  CHECK(f.skip_dir("third/vendor"));
  CHECK_FALSE(f.keep_file("src/a_test.cpp"));
  CHECK(f.keep_file("src/a.cpp"));
  CHECK_FALSE(f.keep_file("x.min.js"));

  core::chat_request inc;
  inc.included_dirs = "src";
  inc.included_files = "README.md";
  file_filter g(c.repo, inc);
  CHECK(g.inclusion_mode());
  CHECK(g.keep_file("src/deep/a.cpp"));
  CHECK(g.keep_file("README.md"));
  CHECK_FALSE(g.keep_file("lib/a.cpp"));
  CHECK_FALSE(g.skip_dir("build"));  // exclusions do not apply in inclusion mode
  CHECK(g.skip_dir(".git"));         // except .git, always
  CHECK(split_list(" a,b\n\nc ,") == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE(".gitignore rules: last match wins and negation and dir-only and anchoring") {
  gitignore g;
  g.add("", "# comment\n*.log\n!keep.log\ngenerated/\n/root_only.txt\ndocs/**/draft.md\n");
  g.add("sub", "local.txt\n");
  CHECK(g.ignored("a.log", false));
  CHECK(g.ignored("deep/b.log", false));
  CHECK_FALSE(g.ignored("keep.log", false));
  CHECK(g.ignored("generated", true));
  CHECK(g.ignored("x/generated", true));
  CHECK_FALSE(g.ignored("generated", false));  // dir-only rule, and this is a file
  CHECK(g.ignored("root_only.txt", false));
  CHECK_FALSE(g.ignored("x/root_only.txt", false));
  CHECK(g.ignored("docs/a/b/draft.md", false));
  CHECK(g.ignored("sub/local.txt", false));
  CHECK_FALSE(g.ignored("local.txt", false));
}

TEST_CASE("gitignore lines past the length limit and rules past the count limit are dropped") {
  gitignore g;
  g.add("", "/" + std::string(max_gitignore_line, 'x') + "\n*.log\n");
  CHECK(g.ignored("a.log", false));
  CHECK_FALSE(g.ignored(std::string(max_gitignore_line, 'x'), false));
  CHECK(g.dropped() == 1);
  std::string many;
  for (std::size_t i = 0; i < max_gitignore_rules + 10; ++i)
    many += "f" + std::to_string(i) + ".txt\n";
  g.add("sub", many);
  CHECK(g.ignored("sub/f0.txt", false));
  CHECK(g.ignored("sub/f" + std::to_string(max_gitignore_rules - 2) + ".txt", false));
  CHECK_FALSE(g.ignored("sub/f" + std::to_string(max_gitignore_rules - 1) + ".txt", false));
  CHECK(g.dropped() == 1 + 11);  // the root file's *.log took one of the rules
}

TEST_CASE("scanning the fixture repo reads the right files and counts what it skipped") {
  auto c = test::embedded_config();
  core::chat_request r;
  file_filter f(c.repo, r);
  auto s = scan_repo(ASKD_FIXTURES "/minirepo", f, c.repo);
  std::vector<std::string> paths;
  for (const auto& file : s.files) paths.push_back(file.path);
  CHECK(paths == std::vector<std::string>{"README.md", "keep.txt", "src/http/websocket_session.cpp",
                                          "src/retry_policy.cpp", "src/token_bucket.py"});
  CHECK(s.stats.binary == 1);
  CHECK(s.stats.not_utf8 == 1);
  CHECK(s.stats.ignored == 1);   // generated/
  CHECK(s.stats.filtered == 2);  // web/app.min.js, .gitignore
  auto small = c.repo;
  small.max_file_bytes = 100;
  auto t = scan_repo(ASKD_FIXTURES "/minirepo", f, small);
  CHECK(t.stats.too_large >= 3);
  CHECK(is_valid_utf8("naïve 日本語"));
  CHECK_FALSE(is_valid_utf8("caf\xe9"));
  CHECK_FALSE(is_valid_utf8("\xe6\x97"));
}
