// Local repositories only under allowed roots; file paths never leave the repository.
#include <catch2/catch.hpp>

#include "core/config.hpp"
#include "rag/repo_source.hpp"
#include "tests/support/embedded_config.hpp"

using namespace askd;

namespace {
core::chat_request local(const std::string& path) {
  core::chat_request r;
  r.repo_url = path;
  r.type = "local";
  return r;
}
}  // namespace

TEST_CASE("local paths are accepted only under an allowed root") {
  auto c = test::embedded_config({ASKD_FIXTURES});
  auto ok = rag::locate_repo(local(ASKD_FIXTURES "/minirepo"), c);
  REQUIRE(ok);
  CHECK(ok->local);
  CHECK(ok->path.find("minirepo") != std::string::npos);
  for (const char* bad :
       {"/etc", ASKD_FIXTURES "/../..", ASKD_FIXTURES "/minirepo/../../unit", "/no/such/dir"}) {
    auto r = rag::locate_repo(local(bad), c);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == core::error_code::forbidden);
    CHECK(core::http_status(r.err().code) == 403);
  }
  auto none = rag::locate_repo(local(ASKD_FIXTURES "/minirepo"), test::embedded_config());
  REQUIRE_FALSE(none);
  CHECK(none.err().message.find("--allow-local") != std::string::npos);
  core::chat_request remote;
  remote.repo_url = "https://github.com/a/b";
  auto rr = rag::locate_repo(remote, c);
  REQUIRE(rr);
  CHECK_FALSE(rr->local);
}

TEST_CASE("a filePath that escapes the repository is refused") {
  auto root =
      rag::locate_repo(local(ASKD_FIXTURES "/minirepo"), test::embedded_config({ASKD_FIXTURES}))
          ->path;
  CHECK(rag::read_repo_file(root, "src/retry_policy.cpp", 1 << 20));
  CHECK_FALSE(rag::read_repo_file(root, "../../CMakeLists.txt", 1 << 20));
  CHECK_FALSE(rag::read_repo_file(root, "/etc/passwd", 1 << 20));
  CHECK_FALSE(rag::read_repo_file(root, "src", 1 << 20));
}

TEST_CASE("the index key changes with the filters") {
  auto c = test::embedded_config({ASKD_FIXTURES});
  auto a = local(ASKD_FIXTURES "/minirepo");
  auto b = a;
  b.excluded_dirs = "src";
  CHECK(rag::locate_repo(a, c)->key != rag::locate_repo(b, c)->key);
}

TEST_CASE("a remote repository fetched with a token never shares its checkout or index") {
  auto c = test::embedded_config();
  core::chat_request open, secret;
  open.repo_url = secret.repo_url = "https://github.com/owner/repo.git";
  secret.token = "ghp_x";
  auto a = rag::locate_repo(open, c);
  auto b = rag::locate_repo(secret, c);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->url == "https://github.com/owner/repo");
  CHECK(a->key != b->key);
  CHECK(a->checkout != b->checkout);
  CHECK(b->key.find("ghp_x") == std::string::npos);
  CHECK(b->checkout.find("ghp_x") == std::string::npos);
  for (const char* bad :
       {"ftp://h/a/b", "https://host", "git@github.com:a/b.git", "https://u:p@h/a/b",
        "https://github.com/owner/re po", "https://github.com/owner/re\tpo",
        "https://github.com/owner/re\npo", "https://github.com/owner\\repo"}) {
    core::chat_request r;
    r.repo_url = bad;
    INFO(bad);
    auto x = rag::locate_repo(r, c);
    REQUIRE_FALSE(x);
    CHECK(x.err().code == core::error_code::bad_request);
  }
}
