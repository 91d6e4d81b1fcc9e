#include "rag/git_fetch.hpp"

#include "rag/durable.hpp"
#include "rag/repo_scan.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

extern char** environ;

namespace askd::rag {
namespace fs = std::filesystem;
namespace {

std::string base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

struct run_result {
  int status = -1;
  std::string output;   // stdout + stderr
  std::string failure;  // why it was stopped (timeout, size, cancel)
};

// Runs git with `args` in git_environment(r): the token travels only there.
run_result run_git(const std::vector<std::string>& args, const fetch_request& r,
                   const fs::path& watch) {
  run_result out;
  auto env_store = git_environment(r, environ);
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_store{"git"};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_store) argv.push_back(s.data());
  argv.push_back(nullptr);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    out.failure = "cannot create a pipe";
    return out;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // kill takes git's helpers too
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "git", &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    out.failure = "cannot run git (is it installed?)";
    return out;
  }
  auto deadline = std::chrono::steady_clock::now() + r.timeout;
  auto next_size_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  bool open = true;
  while (true) {
    if (open) {
      pollfd p{pipefd[0], POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        auto n = ::read(pipefd[0], buf, sizeof buf);
        if (n > 0 && out.output.size() < 64 * 1024)
          out.output.append(buf, static_cast<std::size_t>(n));
        if (n <= 0) open = false;
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      // What git wrote last (its "fatal:" line) may still be in the pipe.
      for (pollfd p{pipefd[0], POLLIN, 0}; open && ::poll(&p, 1, 0) > 0;) {
        char buf[4096];
        auto n = ::read(pipefd[0], buf, sizeof buf);
        if (n <= 0) break;
        if (out.output.size() < 64 * 1024) out.output.append(buf, static_cast<std::size_t>(n));
      }
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (r.cancel && r.cancel->load())
      out.failure = "cancelled";
    else if (now > deadline)
      out.failure = "timed out after " + std::to_string(r.timeout.count()) + " s";
    else if (now > next_size_check) {
      next_size_check = now + std::chrono::seconds(1);
      if (!watch.empty() && dir_bytes(watch) > r.max_bytes)
        out.failure = "the repository is larger than the cap of " +
                      std::to_string(r.max_bytes >> 20) + " MiB";
    }
    if (!out.failure.empty()) {
      ::kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      break;
    }
  }
  ::close(pipefd[0]);
  return out;
}

// An exclusive lock on "<checkout>.lock", held while it lives; the file is removed when
// the lock is released, so none is left behind. Removing a lock file others may be
// waiting on is safe only so: the holder unlinks it before unlocking, and a waiter that
// then gets the lock checks that the file it locked is still the one at the path, and
// starts over if not.
class checkout_lock {
 public:
  explicit checkout_lock(std::string path) : path_(std::move(path)) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd_ < 0) return;  // no lock to be had (read-only data dir): go on unlocked
      if (::flock(fd_, LOCK_EX) == 0) {
        struct stat held {}, now {};
        if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &now) == 0 &&
            held.st_ino == now.st_ino && held.st_dev == now.st_dev)
          return;
      }
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~checkout_lock() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());
    ::close(fd_);
  }
  checkout_lock(const checkout_lock&) = delete;
  checkout_lock& operator=(const checkout_lock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// Error text from git, with the token and its header never in it.
std::string scrub(std::string text, const fetch_request& r) {
  auto cut = [&](const std::string& secret) {
    if (secret.empty()) return;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
      text.replace(at, secret.size(), "***");
  };
  if (!r.token.empty()) {
    cut(auth_header(r.type, r.token));
    cut(base64(r.token));
    cut(r.token);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() > 500) text = text.substr(text.size() - 500);
  return text;
}

core::error fetch_error(const std::string& what, const run_result& rr, const fetch_request& r) {
  std::string msg = what;
  if (!rr.failure.empty())
    msg += ": " + rr.failure;
  else
    msg += ": " + scrub(rr.output, r);
  auto code = rr.failure.rfind("timed out", 0) == 0 ? core::error_code::timeout
              : rr.failure == "cancelled"           ? core::error_code::cancelled
              : rr.output.find("Authentication failed") != std::string::npos ||
                      rr.output.find("could not read Username") != std::string::npos ||
                      rr.output.find(" 401") != std::string::npos ||
                      rr.output.find(" 403") != std::string::npos
                  ? core::error_code::unauthorized
                  : core::error_code::bad_request;
  return core::error::make(code, msg);
}

}  // namespace

std::vector<std::string> git_environment(const fetch_request& r, char** parent) {
  // What git may take from askd's environment: where programs are, the network path the
  // operator configured (proxies, certificate authorities) and a temp dir. Nothing else:
  // provider keys and askd's own settings stay in askd.
  static constexpr std::string_view kept[] = {
      "PATH",          "TMPDIR",         "http_proxy",     "https_proxy",    "HTTP_PROXY",
      "HTTPS_PROXY",   "all_proxy",      "ALL_PROXY",      "no_proxy",       "NO_PROXY",
      "SSL_CERT_FILE", "SSL_CERT_DIR",   "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "CURL_CA_BUNDLE"};
  std::vector<std::string> env;
  bool has_path = false;
  for (char** e = parent; e && *e; ++e) {
    std::string_view v(*e);
    auto name = v.substr(0, v.find('='));
    for (auto k : kept)
      if (name == k) {
        env.emplace_back(v);
        has_path = has_path || name == "PATH";
      }
  }
  if (!has_path) env.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
  // No configuration but ours: not /etc/gitconfig, not a user's ~/.gitconfig (a home
  // that does not exist), and never a prompt for credentials.
  for (const char* v : {"HOME=/nonexistent", "XDG_CONFIG_HOME=/nonexistent", "LC_ALL=C",
                        "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                        "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "SSH_ASKPASS=/bin/false"})
    env.emplace_back(v);
  // Our configuration, for every git command of a fetch: the remote's own scheme only
  // (no ext::, no file:// from an https remote), no redirect off the allowed host that
  // locate_repo checked, links checked out as plain files (a link never points a later
  // read out of the checkout), and the token as a header.
  auto scheme = r.url.substr(0, r.url.find("://"));
  std::vector<std::pair<std::string, std::string>> config{
      {"protocol.allow", "never"},
      {"protocol." + scheme + ".allow", "always"},
      {"http.followRedirects", "false"},
      {"core.symlinks", "false"}};
  if (!r.token.empty()) config.emplace_back("http.extraHeader", auth_header(r.type, r.token));
  env.push_back("GIT_CONFIG_COUNT=" + std::to_string(config.size()));
  for (std::size_t i = 0; i < config.size(); ++i) {
    env.push_back("GIT_CONFIG_KEY_" + std::to_string(i) + "=" + config[i].first);
    env.push_back("GIT_CONFIG_VALUE_" + std::to_string(i) + "=" + config[i].second);
  }
  return env;
}

std::string auth_header(const std::string& type, const std::string& token) {
  std::string user = type == "gitlab"      ? "oauth2"
                     : type == "bitbucket" ? "x-token-auth"
                                           : "x-access-token";
  return "Authorization: Basic " + base64(user + ":" + token);
}

core::result<fetch_result> fetch_repo(const fetch_request& r) {
  fetch_result out;
  out.path = r.dest;
  fs::path dest(r.dest);
  fs::path stamp = dest / ".git" / "askd-fetched";
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  // One fetch per checkout at a time: builds of the same repository with different
  // filters share it.
  checkout_lock lock(r.dest + ".lock");
  if (fs::exists(dest / ".git", ec)) {
    auto age = fs::file_time_type::clock::now() - fs::last_write_time(stamp, ec);
    bool fresh = !ec && age < r.refresh_interval;  // fetched recently: use it as it is
    if (!fresh) {
      auto f =
          run_git({"-C", r.dest, "fetch", "--depth", "1", "--no-tags", "origin", "HEAD"}, r, dest);
      if (f.status != 0) return fetch_error("fetching " + r.url + " failed", f, r);
      auto reset = run_git({"-C", r.dest, "reset", "--hard", "--quiet", "FETCH_HEAD"}, r, {});
      if (reset.status != 0)
        return fetch_error("updating the checkout of " + r.url + " failed", reset, r);
      out.fetched = true;
    }
  } else {
    auto tmp = durable::temporary_name(r.dest, ".tmp-");
    fs::remove_all(tmp, ec);
    auto c = run_git(
        {"clone", "--depth", "1", "--single-branch", "--no-tags", "--quiet", "--", r.url, tmp}, r,
        tmp);
    if (c.status != 0 || !c.failure.empty()) {
      fs::remove_all(tmp, ec);
      return fetch_error("cloning " + r.url + " failed", c, r);
    }
    fs::rename(tmp, dest, ec);
    if (ec) fs::remove_all(tmp, ec);  // another clone won the race; use it
    out.fetched = true;
  }
  if (out.fetched) {
    std::ofstream(stamp) << "";
    fs::last_write_time(stamp, fs::file_time_type::clock::now(), ec);
  }
  auto head = run_git({"-C", r.dest, "rev-parse", "HEAD"}, r, {});
  if (head.status != 0) return fetch_error("reading the commit of " + r.url + " failed", head, r);
  out.commit = head.output.substr(0, head.output.find('\n'));
  return out;
}

}  // namespace askd::rag
