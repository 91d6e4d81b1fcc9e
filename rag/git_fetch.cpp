#include "rag/git_fetch.hpp"

#include "rag/repo_scan.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
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

// Runs git with `args`; the token travels only in the child's environment.
run_result run_git(const std::vector<std::string>& args, const fetch_request& r,
                   const fs::path& watch) {
  run_result out;
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (v.rfind("GIT_CONFIG_", 0) == 0) continue;
    env_store.emplace_back(v);
  }
  env_store.push_back("GIT_TERMINAL_PROMPT=0");
  env_store.push_back("GIT_ASKPASS=/bin/false");
  env_store.push_back("LC_ALL=C");
  if (!r.token.empty()) {
    env_store.push_back("GIT_CONFIG_COUNT=1");
    env_store.push_back("GIT_CONFIG_KEY_0=http.extraHeader");
    env_store.push_back("GIT_CONFIG_VALUE_0=" + auth_header(r.type, r.token));
  }
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
  // filters share it. The lock is released when the descriptor closes.
  int lock_fd = ::open((r.dest + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd >= 0) ::flock(lock_fd, LOCK_EX);
  struct unlock {
    int fd;
    ~unlock() {
      if (fd >= 0) ::close(fd);
    }
  } unlocker{lock_fd};
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
    auto tmp = r.dest + ".tmp-" + std::to_string(::getpid());
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
