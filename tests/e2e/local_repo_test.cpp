// The embedded default end to end: a local repository, indexed once, answered by the
// local provider over both faces, with no network and no key.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "core/log.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {
// Asks about the fixture repository with extra request fields (a provider, a fallback
// chain); returns the answer's body.
std::string ask(const e2e_env& env, const std::string& question, const std::string& fields) {
  auto body = local_body(question);
  body.insert(1, fields);
  return http_call(env.port, "POST", "/chat/completions/stream", body).body;
}
}  // namespace

TEST_CASE("the local provider answers from the repository over HTTP and WebSocket") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/chat/completions/stream",
                     local_body("How is the backoff delay computed?"));
  CHECK(r.status == 200);
  CHECK(r.body.find("Extractive answer") != std::string::npos);
  CHECK(r.body.find("`src/retry_policy.cpp` lines") != std::string::npos);
  CHECK(r.body.find("compute_backoff_delay") != std::string::npos);
  CHECK(r.body.find("Error:") == std::string::npos);

  auto w = ws_call(env.port, "/ws/chat", local_body("where is the websocket handshake?"));
  REQUIRE(w.accepted);
  CHECK(w.close_code == 1000);
  CHECK(w.frames.size() > 2);  // streamed in pieces
  std::string all;
  for (const auto& f : w.frames) all += f;
  CHECK(all.find("src/http/websocket_session.cpp") != std::string::npos);
  CHECK(env.mock->stats().requests == 0);  // nothing went upstream
  CHECK(env.settles());
}

TEST_CASE("a repository outside the allowed roots is refused with 403 before any work") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/chat/completions/stream", local_body("q", "/etc"));
  CHECK(r.status == 403);
  CHECK(r.body.find("not under an allowed local root") != std::string::npos);
  r = http_call(env.port, "POST", "/chat/completions/stream",
                local_body("q", ASKD_FIXTURES "/minirepo/../../.."));
  CHECK(r.status == 403);
  auto w = ws_call(env.port, "/ws/chat", local_body("q", "/etc"));
  REQUIRE(w.frames.size() == 1);
  CHECK(w.frames[0].rfind("Error: repo_url: /etc is not under", 0) == 0);
}

TEST_CASE(
    "ten simultaneous requests for a new repository cause one index build and all get answers") {
  std::atomic<int> builds{0};
  askd::core::set_log_sink([&](std::string_view line) {
    if (line.find("msg=indexing ") != std::string_view::npos) ++builds;
  });
  {
    e2e_env env;
    std::vector<std::thread> clients;
    std::vector<std::string> bodies(10);
    for (int i = 0; i < 10; ++i)
      clients.emplace_back([&, i] {
        bodies[i] = http_call(env.port, "POST", "/chat/completions/stream",
                              local_body("token bucket rate limit " + std::to_string(i)))
                        .body;
      });
    for (auto& t : clients) t.join();
    for (const auto& b : bodies) CHECK(b.find("src/token_bucket.py") != std::string::npos);
  }
  askd::core::set_log_sink(nullptr);
  CHECK(builds == 1);
}

TEST_CASE("other providers get the retrieved context in their prompt") {
  e2e_env env;
  auto body = local_body("How is the backoff delay computed? #mock{\"text\":\"ok\"}");
  body.insert(1, "\"provider\":\"openai\",");
  auto r = http_call(env.port, "POST", "/chat/completions/stream", body);
  CHECK(r.body == "ok");
  auto sent = env.mock->last_body();
  CHECK(sent.find("## File: src/retry_policy.cpp") != std::string::npos);
  CHECK(sent.find("compute_backoff_delay") != std::string::npos);
  CHECK(sent.find("<question>") != std::string::npos);
}

TEST_CASE("remote repositories come only from allowed hosts over https") {
  e2e_env env;
  auto ask = [&](const std::string& url) {
    return http_call(env.port, "POST", "/chat/completions/stream",
                     R"({"repo_url":")" + url + R"(","messages":[{"role":"user","content":"q"}]})");
  };
  auto r = ask("http://127.0.0.1:1/o/r");  // a loopback address: refused before any work
  CHECK(r.status == 403);
  CHECK(r.body.find("host 127.0.0.1:1 is not allowed") != std::string::npos);
  CHECK(ask("https://10.0.0.1/o/r").status == 403);
  CHECK(ask("https://169.254.169.254/o/r").status == 403);
  r = ask("http://github.com/o/r");
  CHECK(r.status == 403);
  CHECK(r.body.find("only https://") != std::string::npos);
}

TEST_CASE("remote repositories are cloned and indexed and a bad URL is refused") {
  e2e_env env([](askd::core::config& c) {
    c.repos.allowed_hosts.push_back("127.0.0.1:1");  // that port only
    c.repos.allow_http = true;
  });
  auto r = http_call(env.port, "POST", "/chat/completions/stream",
                     R"({"repo_url":"ftp://host/a/b","messages":[{"role":"user","content":"q"}]})");
  CHECK(r.status == 400);
  CHECK(r.body.find("expected https://host/owner/repo") != std::string::npos);
  // Nothing listens on port 1: the clone fails, in-band, with the token scrubbed.
  r = http_call(
      env.port, "POST", "/chat/completions/stream",
      R"({"repo_url":"http://127.0.0.1:1/o/r","token":"tok_SECRET","messages":[{"role":"user","content":"q"}]})");
  CHECK(r.status == 200);
  CHECK(r.body.rfind("\nError: cloning http://127.0.0.1:1/o/r failed", 0) == 0);
  CHECK(r.body.find("SECRET") == std::string::npos);
}

TEST_CASE(
    "past the index memory budget the least recently used index is closed and reopens from disk") {
  std::atomic<int> closed{0}, reopened{0}, built{0};
  askd::core::set_log_sink([&](std::string_view line) {
    if (line.find("msg=\"index closed\"") != std::string_view::npos) ++closed;
    if (line.find("msg=indexed ") != std::string_view::npos)
      ++(line.find("reopened=true") != std::string_view::npos ? reopened : built);
  });
  {
    e2e_env env([](askd::core::config& c) { c.repos.index_memory_mb = 0; });
    auto ask = [&](const std::string& repo) {
      return http_call(env.port, "POST", "/chat/completions/stream",
                       local_body("backoff delay", repo))
          .body;
    };
    CHECK(ask(ASKD_FIXTURES "/minirepo").find("retry_policy.cpp") != std::string::npos);
    CHECK(ask(ASKD_FIXTURES "/minirepo/src").find("retry_policy.cpp") != std::string::npos);
    CHECK(ask(ASKD_FIXTURES "/minirepo").find("retry_policy.cpp") != std::string::npos);
  }
  askd::core::set_log_sink(nullptr);
  CHECK(built == 2);
  CHECK(closed == 2);
  CHECK(reopened == 1);
}

TEST_CASE("filePath is read from the repository and a path leaving it is refused before any work") {
  e2e_env env;
  auto with_file = [](const std::string& file) {
    auto b = local_body("What does this file do?");
    b.insert(1, "\"filePath\":\"" + file + "\",\"provider\":\"openai\",");
    return b;
  };
  auto r =
      http_call(env.port, "POST", "/chat/completions/stream", with_file("src/token_bucket.py"));
  CHECK(r.status == 200);
  CHECK(env.mock->last_body().find("<currentFileContent path=\\\"src/token_bucket.py\\\">") !=
        std::string::npos);
  for (const char* bad : {"../../../etc/passwd", "/etc/passwd", "src/../../x"}) {
    auto refused = http_call(env.port, "POST", "/chat/completions/stream", with_file(bad));
    INFO(bad);
    CHECK(refused.status == 400);
    CHECK(refused.body.find("is not a path inside the repository") != std::string::npos);
  }
}

TEST_CASE("index builds past the limit and its queue are refused at once") {
  e2e_env env([](askd::core::config& c) {
    c.repos.max_concurrent_builds = 1;
    c.repos.max_queued_builds = 0;
    c.repos.clone_timeout_s = 2;
    c.repos.allowed_hosts.push_back("127.0.0.1");  // the test's silent "git server"
    c.repos.allow_http = true;
  });
  std::atomic<bool> slow_started{false};
  askd::core::set_log_sink([&](std::string_view line) {
    if (line.find("msg=indexing repo=http://127.0.0.1") != std::string_view::npos)
      slow_started = true;
  });
  // A "git server" that accepts connections and never answers holds the only slot.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(silent, 16) == 0);
  socklen_t len = sizeof a;
  ::getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len);
  auto url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/o/r";
  std::string slow_body;
  std::thread slow([&] {
    slow_body =
        http_call(env.port, "POST", "/chat/completions/stream",
                  R"({"repo_url":")" + url + R"(","messages":[{"role":"user","content":"q"}]})")
            .body;
  });
  // Once the slow build has started (its "indexing" line), a build for any other
  // repository is refused at once.
  REQUIRE(eventually([&] { return slow_started.load(); }, std::chrono::milliseconds(10000)));
  auto probe = http_call(env.port, "POST", "/chat/completions/stream", local_body("backoff"));
  bool refused = probe.body.find("too many repositories are being indexed") != std::string::npos;
  slow.join();
  CHECK(refused);
  INFO("slow: " << slow_body);
  CHECK(slow_body.find("timed out after 2 s") != std::string::npos);
  // With the slot free again, the same request is answered.
  CHECK(http_call(env.port, "POST", "/chat/completions/stream", local_body("backoff"))
            .body.find("retry_policy.cpp") != std::string::npos);
  ::close(silent);
  askd::core::set_log_sink(nullptr);
}

TEST_CASE(
    "context that does not fit the model's window is dropped and a huge question skips retrieval") {
  e2e_env env([](askd::core::config& c) {
    for (auto& p : c.generator.providers)
      for (auto& m : p.models) m.context_window = 4096 + 300;  // room for the prompt alone
  });
  auto body = local_body("How is the backoff delay computed? #mock{\"text\":\"ok\"}");
  body.insert(1, "\"provider\":\"openai\",");
  CHECK(http_call(env.port, "POST", "/chat/completions/stream", body).body == "ok");
  CHECK(env.mock->last_body().find("## File:") == std::string::npos);

  e2e_env roomy;
  std::string huge = "backoff ";
  for (int i = 0; i < 9000; ++i) huge += "word ";
  auto long_body = local_body(huge + "#mock{\"text\":\"ok\"}");
  long_body.insert(1, "\"provider\":\"openai\",");
  CHECK(http_call(roomy.port, "POST", "/chat/completions/stream", long_body).body == "ok");
  CHECK(roomy.mock->last_body().find("## File:") == std::string::npos);
  // The same question, short, does get context.
  CHECK(http_call(roomy.port, "POST", "/chat/completions/stream", body).body == "ok");
  CHECK(roomy.mock->last_body().find("## File: src/retry_policy.cpp") != std::string::npos);
}

TEST_CASE("a context-length refusal is retried once without the retrieved context") {
  e2e_env env;
  CHECK(ask(env,
            "How is the backoff delay computed? #mock{\"text\":\"fits now\",\"fault\":\"status\","
            "\"status\":400,\"fail_first\":1,\"key\":\"ctx\"}",
            "\"provider\":\"openai\",") == "fits now");
  CHECK(env.mock->stats().requests == 2);
  CHECK(env.mock->last_body().find("## File:") == std::string::npos);  // the lean retry
}

TEST_CASE("a provider that keeps failing hands over to the fallback chain") {
  e2e_env env;
  // openai fails its three attempts; openrouter (also askmock here) answers.
  CHECK(ask(env,
            "backoff? #mock{\"text\":\"from the fallback\",\"fault\":\"status\",\"status\":503,"
            "\"fail_first\":3,\"key\":\"fb\"}",
            "\"provider\":\"openai\",\"fallback\":[\"openrouter\"],") == "from the fallback");
  CHECK(env.mock->stats().requests == 4);
  CHECK(env.mock->last_body().find("\"model\":\"openai/gpt-5-nano\"") != std::string::npos);

  // Down for good: the chain may end in local, which answers from the repository.
  auto answer =
      ask(env, "How is the backoff delay computed? #mock{\"fault\":\"status\",\"status\":500}",
          "\"provider\":\"openai\",\"fallback\":[\"local\"],");
  CHECK(answer.find("Extractive answer") != std::string::npos);
  CHECK(answer.find("src/retry_policy.cpp") != std::string::npos);
  CHECK(env.settles());
}
