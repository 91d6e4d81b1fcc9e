// Remote repositories: a shallow clone, a refresh only after the interval, and a token
// that never reaches .git/config or an error text. A local repository stands in for
// the remote (git speaks file:// like https://), so no network is needed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rag/git_fetch.hpp"
#include "tests/support/fake_servers.hpp"
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
  CHECK_FALSE(fs::exists(r.dest + ".lock"));  // the lock is gone with the fetch
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

TEST_CASE("git runs in an environment of askd's making, not askd's own") {
  std::vector<std::string> parent_store{
      "PATH=/opt/git/bin:/usr/bin", "HOME=/root",          "OPENAI_API_KEY=sk-secret",
      "https_proxy=http://proxy:3128", "SSL_CERT_FILE=/etc/ca.pem", "GIT_CONFIG_COUNT=1",
      "GIT_CONFIG_KEY_0=http.sslVerify", "GIT_CONFIG_VALUE_0=false", "GIT_DIR=/elsewhere",
      "ASKD_CONFIG=/etc/askd.json"};
  std::vector<char*> parent;
  for (auto& s : parent_store) parent.push_back(s.data());
  parent.push_back(nullptr);
  rag::fetch_request r;
  r.url = "https://github.com/o/r";
  r.type = "github";
  r.token = "ghp_x";
  auto env = rag::git_environment(r, parent.data());
  auto has = [&](const std::string& v) { return std::find(env.begin(), env.end(), v) != env.end(); };
  auto value_of = [&](const std::string& name) {
    std::string out = "(unset)";
    for (auto& e : env)
      if (e.rfind(name + "=", 0) == 0) out = e.substr(name.size() + 1);
    return out;
  };
  CHECK(has("PATH=/opt/git/bin:/usr/bin"));
  CHECK(has("https_proxy=http://proxy:3128"));
  CHECK(has("SSL_CERT_FILE=/etc/ca.pem"));
  CHECK(has("HOME=/nonexistent"));
  CHECK(has("GIT_CONFIG_NOSYSTEM=1"));
  CHECK(has("GIT_CONFIG_GLOBAL=/dev/null"));
  CHECK(has("GIT_TERMINAL_PROMPT=0"));
  CHECK(value_of("OPENAI_API_KEY") == "(unset)");
  CHECK(value_of("GIT_DIR") == "(unset)");
  CHECK(value_of("ASKD_CONFIG") == "(unset)");
  // Our configuration replaces the parent's GIT_CONFIG_* entirely.
  std::map<std::string, std::string> config;
  int count = std::stoi(value_of("GIT_CONFIG_COUNT"));
  for (int i = 0; i < count; ++i)
    config[value_of("GIT_CONFIG_KEY_" + std::to_string(i))] =
        value_of("GIT_CONFIG_VALUE_" + std::to_string(i));
  CHECK(config.count("http.sslVerify") == 0);
  CHECK(config["http.followRedirects"] == "false");
  CHECK(config["protocol.allow"] == "never");
  CHECK(config["protocol.https.allow"] == "always");
  CHECK(config["core.symlinks"] == "false");
  CHECK(config["http.extraHeader"] == rag::auth_header("github", "ghp_x"));
  CHECK(std::count_if(env.begin(), env.end(),
                      [](auto& e) { return e.rfind("GIT_CONFIG_KEY_", 0) == 0; }) == count);
}

TEST_CASE("the git that runs sees none of askd's secrets") {
  // A git on PATH that writes down its environment: what the real one would have seen.
  test::temp_dir bin, data;
  auto seen = bin.path + "/seen-env";
  std::ofstream(bin.path + "/git") << "#!/bin/sh\nenv > " << seen << "\nexit 1\n";
  fs::permissions(bin.path + "/git", fs::perms::owner_all);
  std::string path = bin.path + ":" + std::getenv("PATH");
  ::setenv("PATH", path.c_str(), 1);
  ::setenv("OPENAI_API_KEY", "sk-must-not-leak", 1);
  ::setenv("GIT_CONFIG_PARAMETERS", "'http.sslverify'='false'", 1);
  rag::fetch_request r;
  r.url = "https://example.invalid/o/r";
  r.dest = data.path + "/repos/e";
  REQUIRE_FALSE(rag::fetch_repo(r));
  auto env = slurp(seen);
  CHECK(env.find("GIT_CONFIG_NOSYSTEM=1") != std::string::npos);
  CHECK(env.find("PATH=" + path) != std::string::npos);
  CHECK(env.find("sk-must-not-leak") == std::string::npos);
  CHECK(env.find("GIT_CONFIG_PARAMETERS") == std::string::npos);
}

TEST_CASE("git follows no redirect away from the host that was allowed") {
  // The allowed host answers git's first request with a redirect elsewhere.
  test::scripted_server elsewhere({"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"});
  test::scripted_server allowed({"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:" +
                                 std::to_string(elsewhere.port()) +
                                 "/o/r/info/refs?service=git-upload-pack\r\n"
                                 "Content-Length: 0\r\n\r\n"});
  test::temp_dir data;
  rag::fetch_request r;
  r.url = "http://127.0.0.1:" + std::to_string(allowed.port()) + "/o/r";
  r.dest = data.path + "/repos/r";
  r.timeout = std::chrono::seconds(30);
  auto out = rag::fetch_repo(r);
  REQUIRE_FALSE(out);
  CHECK(allowed.connections() >= 1);
  CHECK(elsewhere.connections() == 0);
  CHECK_FALSE(fs::exists(r.dest));
}
