// rag/git_fetch.hpp — a remote repository as a shallow checkout under the data dir,
// with the git command (Debian's libgit2 cannot clone shallow). A private repository's
// token goes to git only through the child's environment (an http.extraHeader set by
// GIT_CONFIG_*): never in its arguments, never in .git/config, and scrubbed from any
// error text. git runs in an environment of our making (git_environment): askd's own
// variables, provider keys among them, never reach it, no system or user git config is
// read, and it follows no redirect. Each fetch has a timeout and a size cap and can be
// cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace askd::rag {

struct fetch_request {
  std::string url;    // https://host/owner/repo(.git)
  std::string type;   // github | gitlab | bitbucket: the token's user name per host
  std::string token;  // secret; may be empty
  std::string dest;   // the checkout directory (created; replaced atomically on first clone)
  std::chrono::seconds timeout{300};
  std::uint64_t max_bytes = 2ULL << 30;
  std::chrono::seconds refresh_interval{300};  // an existing checkout is fetched at most this often
  const std::atomic<bool>* cancel = nullptr;
};

struct fetch_result {
  std::string path;      // the checkout
  std::string commit;    // HEAD after the fetch
  bool fetched = false;  // false when the checkout was fresh enough to use as it is
};

core::result<fetch_result> fetch_repo(const fetch_request& request);

// The whole environment git runs in ("NAME=value" each), built from askd's `parent`
// environment: PATH, proxy and CA variables only, no system or user git config, no
// prompts, and GIT_CONFIG_* that pin the remote's scheme, refuse redirects, check links
// out as files and carry the token.
std::vector<std::string> git_environment(const fetch_request& request, char** parent);

// "Authorization: Basic base64(user:token)" with the user name each host expects.
std::string auth_header(const std::string& type, const std::string& token);

}  // namespace askd::rag
