// Remote repositories: a shallow clone, a refresh only after the interval, and a token
// that never reaches .git/config or an error text. A local repository stands in for
// the remote (git speaks file:// like https://), so no network is needed.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rag/git_fetch.hpp"
#include "tests/support/temp_dir.hpp"

using namespace askd;
namespace fs = std::filesystem;

namespace {
int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A git repository with the fixture's files, one commit.
std::string make_origin(const std::string& dir) {
  fs::copy(ASKD_FIXTURES "/minirepo", dir, fs::copy_options::recursive);
  REQUIRE(
      sh("cd " + dir +
         " && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm one") ==
      0);
  return "file://" + dir;
}
}  // namespace

TEST_CASE("a remote is cloned shallow and fetched again only after the refresh interval") {
  test::temp_dir origin, data;
  auto url = make_origin(origin.path);
  rag::fetch_request r;
  r.url = url;
  r.dest = data.path + "/repos/x";
  r.refresh_interval = std::chrono::seconds(3600);
  auto first = rag::fetch_repo(r);
  REQUIRE(first);
  CHECK(first->fetched);
  CHECK(first->commit.size() == 40);
  CHECK(fs::exists(r.dest + "/src/retry_policy.cpp"));
  auto again = rag::fetch_repo(r);
  REQUIRE(again);
  CHECK_FALSE(again->fetched);
  CHECK(again->commit == first->commit);

  std::ofstream(origin.path + "/src/new_file.cpp") << "int x;\n";
  REQUIRE(sh("cd " + origin.path +
             " && git add -A && git -c user.name=t -c user.email=t@t commit -qm two") == 0);
  r.refresh_interval = std::chrono::seconds(0);
  auto refreshed = rag::fetch_repo(r);
  REQUIRE(refreshed);
  CHECK(refreshed->fetched);
  CHECK(refreshed->commit != first->commit);
  CHECK(fs::exists(r.dest + "/src/new_file.cpp"));
}

TEST_CASE("a token never lands in .git/config or in an error") {
  test::temp_dir origin, data;
  auto url = make_origin(origin.path);
  rag::fetch_request r;
  r.url = url;
  r.type = "github";
  r.token = "ghp_SECRETtoken123";
  r.dest = data.path + "/repos/y";
  REQUIRE(rag::fetch_repo(r));
  for (const auto& e : fs::recursive_directory_iterator(r.dest + "/.git"))
    if (e.is_regular_file()) CHECK(slurp(e.path()).find("SECRETtoken") == std::string::npos);

  r.url = "http://127.0.0.1:1/owner/repo";
  r.dest = data.path + "/repos/z";
  auto failed = rag::fetch_repo(r);
  REQUIRE_FALSE(failed);
  CHECK(failed.err().message.find("cloning http://127.0.0.1:1/owner/repo failed") == 0);
  CHECK(failed.err().message.find("SECRET") == std::string::npos);
  CHECK_FALSE(fs::exists(r.dest));
  CHECK(rag::auth_header("gitlab", "t") ==
        "Authorization: Basic "
        "b2F1dGgyOnQ=");
}

TEST_CASE("a clone past its time limit is killed and leaves nothing") {
  test::temp_dir data;
  rag::fetch_request r;
  // A listener that never answers: git waits until the timeout kills it.
  std::atomic<bool> cancel{true};
  r.url = "http://127.0.0.1:1/owner/repo";
  r.dest = data.path + "/repos/c";
  r.cancel = &cancel;
  auto out = rag::fetch_repo(r);
  REQUIRE_FALSE(out);
  CHECK_FALSE(fs::exists(r.dest));
}
