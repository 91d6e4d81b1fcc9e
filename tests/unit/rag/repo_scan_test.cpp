// A repository is hostile input: links, FIFOs, huge or endless files and oversized
// .gitignore files, each built in a temporary directory at test time.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "core/config.hpp"
#include "rag/file_filter.hpp"
#include "rag/repo_scan.hpp"
#include "rag/repo_source.hpp"
#include "tests/support/embedded_config.hpp"
#include "tests/support/temp_dir.hpp"

using namespace askd;
using namespace askd::rag;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, std::string_view text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::vector<std::string> scanned_paths(const std::string& root, const core::chat_request& r = {}) {
  auto c = test::embedded_config();
  file_filter f(c.repo, r);
  std::vector<std::string> paths;
  for (const auto& file : scan_repo(root, f, c.repo).files) paths.push_back(file.path);
  return paths;
}

scan_stats stats_of(const std::string& root) {
  auto c = test::embedded_config();
  file_filter f(c.repo, {});
  return scan_repo(root, f, c.repo).stats;
}

}  // namespace

// Before, the scan read /dev/zero through the link until memory ran out.
TEST_CASE("a gitignore linked to dev zero gives no rules and is not read") {
  test::temp_dir repo;
  write(repo.path + "/a.cpp", "int a;\n");
  fs::create_symlink("/dev/zero", repo.path + "/.gitignore");
  CHECK(scanned_paths(repo.path) == std::vector<std::string>{"a.cpp"});
  CHECK(stats_of(repo.path).not_regular == 1);
  auto c = test::embedded_config();
  file_filter f(c.repo, {});
  CHECK(tree_stamp(repo.path, f, c.repo).find("a.cpp") != std::string::npos);
}

TEST_CASE("a gitignore linked to a file outside the repository does not apply") {
  test::temp_dir outside, repo;
  write(outside.path + "/rules", "*.cpp\n");
  write(repo.path + "/a.cpp", "int a;\n");
  fs::create_symlink(outside.path + "/rules", repo.path + "/.gitignore");
  CHECK(scanned_paths(repo.path) == std::vector<std::string>{"a.cpp"});
}

TEST_CASE("FIFOs in a repository are skipped without blocking the scan") {
  test::temp_dir repo;
  write(repo.path + "/a.cpp", "int a;\n");
  REQUIRE(::mkfifo((repo.path + "/x.cpp").c_str(), 0600) == 0);
  REQUIRE(::mkfifo((repo.path + "/.gitignore").c_str(), 0600) == 0);  // blocked the old scan
  CHECK(scanned_paths(repo.path) == std::vector<std::string>{"a.cpp"});
  CHECK(stats_of(repo.path).not_regular == 2);
  CHECK_FALSE(read_repo_file(repo.path, "x.cpp", 1 << 20));
}

TEST_CASE("links to files and directories outside the repository are not followed") {
  test::temp_dir outside, repo;
  write(outside.path + "/secret.cpp", "int secret;\n");
  write(repo.path + "/a.cpp", "int a;\n");
  fs::create_symlink(outside.path + "/secret.cpp", repo.path + "/leak.cpp");
  fs::create_symlink(outside.path, repo.path + "/dir");
  CHECK(scanned_paths(repo.path) == std::vector<std::string>{"a.cpp"});
  CHECK(stats_of(repo.path).not_regular == 2);
}

TEST_CASE("read_repo_file refuses a path through a symlink") {
  test::temp_dir outside, repo;
  write(outside.path + "/secret.cpp", "int secret;\n");
  write(repo.path + "/src/a.cpp", "int a;\n");
  fs::create_symlink(outside.path + "/secret.cpp", repo.path + "/leak.cpp");
  fs::create_symlink(outside.path, repo.path + "/dir");
  fs::create_symlink("src/a.cpp", repo.path + "/inside.cpp");
  fs::create_symlink("src", repo.path + "/alias");
  auto ok = read_repo_file(repo.path, "src/a.cpp", 1 << 20);
  REQUIRE(ok);
  CHECK(*ok == "int a;\n");
  CHECK(read_repo_file(repo.path, "./src//a.cpp", 1 << 20));
  for (const char* bad : {"leak.cpp", "dir/secret.cpp", "inside.cpp", "alias/a.cpp",
                          "src/../leak.cpp", "src", "", "/etc/passwd", "missing.cpp"}) {
    INFO(bad);
    auto r = read_repo_file(repo.path, bad, 1 << 20);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == core::error_code::bad_request);
    CHECK(r.err().message.find("not a file inside the repository") != std::string::npos);
  }
}

TEST_CASE("reads stop one byte past their limit") {
  test::temp_dir repo;
  write(repo.path + "/big.cpp", std::string(100, 'x'));
  auto dir = open_dir(repo.path);
  REQUIRE(dir);
  auto exact = read_file_at(dir.get(), "big.cpp", 100);
  CHECK(exact.result == file_read::outcome::ok);
  CHECK(exact.bytes.size() == 100);
  auto over = read_file_at(dir.get(), "big.cpp", 10);
  CHECK(over.result == file_read::outcome::too_large);
  CHECK(over.bytes == std::string(10, 'x'));
  auto r = read_repo_file(repo.path, "big.cpp", 99);
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("too large") != std::string::npos);
  std::atomic<bool> cancel{true};
  CHECK(read_file_at(dir.get(), "big.cpp", 100, &cancel).result == file_read::outcome::cancelled);
}

TEST_CASE("a cancelled scan or tree stamp returns nothing") {
  test::temp_dir repo;
  write(repo.path + "/a.cpp", "int a;\n");
  auto c = test::embedded_config();
  file_filter f(c.repo, {});
  std::atomic<bool> cancel{true};
  auto s = scan_repo(repo.path, f, c.repo, &cancel);
  CHECK(s.files.empty());
  CHECK(s.stats.files == 0);
  CHECK(tree_stamp(repo.path, f, c.repo, &cancel).empty());
  CHECK_FALSE(tree_stamp(repo.path, f, c.repo).empty());
}

TEST_CASE("a gitignore past its size limit is cut at its last whole line") {
  test::temp_dir repo;
  std::string text = "a.cpp\n";
  // Comment lines up to just before the limit, then a rule the limit cuts after "c.cpp":
  // that half must not apply, nor anything after it.
  while (text.size() + 100 < max_gitignore_bytes - 5) text += "#" + std::string(98, '-') + "\n";
  text += "#" + std::string(max_gitignore_bytes - 5 - text.size() - 2, '-') + "\n";
  REQUIRE(text.size() == max_gitignore_bytes - 5);
  text += "c.cppx\nd.cpp\n";
  write(repo.path + "/.gitignore", text);
  for (const char* name : {"a.cpp", "c.cpp", "d.cpp"}) write(repo.path + "/" + name, "int x;\n");
  CHECK(scanned_paths(repo.path) == std::vector<std::string>{"c.cpp", "d.cpp"});
  auto st = stats_of(repo.path);
  CHECK(st.ignore_cut == 1);
  CHECK(st.ignored == 1);
}

TEST_CASE("directories below the depth limit are not walked") {
  test::temp_dir repo;
  std::string deep = repo.path;
  for (int i = 0; i < max_scan_depth; ++i) deep += "/d";
  write(deep + "/in.cpp", "int in;\n");
  write(deep + "/d/out.cpp", "int out;\n");
  auto paths = scanned_paths(repo.path);
  REQUIRE(paths.size() == 1);
  CHECK(paths[0].size() == std::size_t(max_scan_depth) * 2 + 6);  // "d/" x depth + "in.cpp"
  CHECK(stats_of(repo.path).too_deep == 1);
}

TEST_CASE("included directories include every file below them during a scan") {
  test::temp_dir repo;
  for (const char* p : {"src/deep/a.cpp", "lib/b.cpp", "lib/src/c.cpp", "d.cpp"})
    write(repo.path + "/" + p, "int x;\n");
  core::chat_request r;
  r.included_dirs = "src";
  CHECK(scanned_paths(repo.path, r) == std::vector<std::string>{"lib/src/c.cpp", "src/deep/a.cpp"});
  r.included_dirs = "lib/src";
  r.included_files = "d.cpp";
  CHECK(scanned_paths(repo.path, r) == std::vector<std::string>{"d.cpp", "lib/src/c.cpp"});
}
