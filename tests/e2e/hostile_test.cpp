// The attacks of issue 17 replayed against a running askd: each must leave askd up and
// answering a control request, and each is refused with a clear error instead of
// crashing, starving or reading through askd.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/json.hpp"
#include "core/log.hpp"
#include "rag/disk_budget.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;

namespace {

std::string deep(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// askd is up and answers at once.
bool alive(const e2e_env& env) {
  auto r = http_call(env.port, "GET", "/health", {}, {}, std::chrono::seconds(10));
  return r.status == 200;
}

}  // namespace

TEST_CASE("a request body nested 150000 levels deep is a 400 - not a crash") {
  e2e_env env;
  auto body =
      R"({"repo_url":"https://github.com/a/b","messages":[{"role":"user","content":"q"}],"x":)" +
      deep(150000) + "}";
  auto r = http_call(env.port, "POST", "/chat/completions/stream", body);
  CHECK(r.status == 400);
  CHECK(r.body == R"({"detail":"body: JSON nested deeper than 64 levels"})");
  r = http_call(env.port, "POST", "/v1/chat/stream", deep(150000));
  CHECK(r.status == 400);
  CHECK(alive(env));
}

TEST_CASE("an askd.v1 frame nested 150000 levels deep gets an error frame and the socket goes on") {
  e2e_env env;
  int step = 0;
  std::string answer;
  auto ws = ws_converse(env.port, "/ws/chat", "askd.v1", {}, {deep(150000)},
                        [&](const std::string& frame) -> ws_step {
                          if (step++ == 0) {
                            CHECK(frame.find("\"type\":\"error\"") != std::string::npos);
                            CHECK(frame.find("nested deeper than 64 levels") != std::string::npos);
                            // The same socket still takes a chat.
                            return {{R"({"type":"chat","id":"c1","request":)" +
                                     chat_body("q", R"({"text":"still here"})") + "}"}};
                          }
                          if (frame.find("\"type\":\"delta\"") != std::string::npos) answer += "x";
                          return {{}, frame.find("\"type\":\"done\"") != std::string::npos};
                        });
  CHECK(ws.accepted);
  CHECK(!answer.empty());
  CHECK(alive(env));
}

TEST_CASE(
    "an upstream event nested 150000 levels deep ends the answer with a malformed-stream error") {
  e2e_env env;
  for (const char* provider : {"openai", "google", "anthropic", "ollama", "bedrock"}) {
    auto r = http_call(
        env.port, "POST", "/chat/completions/stream",
        chat_body("q", R"({"text":"a b c","chunk":2,"fault":"nested","after":2})", provider));
    INFO(provider << " -> " << r.body.substr(0, 300));
    CHECK(r.status == 200);
    CHECK(r.body.rfind("a b ", 0) == 0);
    CHECK(r.body.find("\nError: ") != std::string::npos);
    CHECK(r.body.find("not a JSON object") != std::string::npos);
  }
  CHECK(alive(env));
  CHECK(env.settles());
}

// -- Who may call: CORS, Content-Type, Host -----------------------------------------

TEST_CASE("a page on another origin is refused - and no reply carries a wildcard CORS header") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/chat/completions/stream", local_body("q"),
                     {{"Origin", "http://evil.example"}});
  CHECK(r.status == 403);
  CHECK(r.body.find("Origin \\\"http://evil.example\\\" may not call this server") !=
        std::string::npos);
  CHECK(r.header("access-control-allow-origin").empty());
  // The preflight too: a browser then never sends the request.
  r = http_call(env.port, "OPTIONS", "/v1/chat/stream", {},
                {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(r.status == 403);
  CHECK(r.header("access-control-allow-origin").empty());
  // And a WebSocket, which browsers open from any page without CORS.
  auto ws = ws_converse(env.port, "/ws/chat", "", {{"Origin", "http://evil.example"}},
                        {local_body("q")}, [](const std::string&) {
                          return ws_step{{}, true};
                        });
  CHECK_FALSE(ws.accepted);
  CHECK(ws.refused_status == 403);
  // Without an Origin (curl, SDKs, a server-side proxy) nothing changes.
  r = http_call(env.port, "GET", "/health");
  CHECK(r.status == 200);
  CHECK(r.header("access-control-allow-origin").empty());
  CHECK(http_call(env.port, "GET", "/metrics").body.find("askd_requests_total{outcome=\"ok\"} 0") !=
        std::string::npos);
}

TEST_CASE("a chat that is not application/json is refused with 415 before any work") {
  e2e_env env;
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonx"}) {
    auto r = http_call(env.port, "POST", "/chat/completions/stream", local_body("q"),
                       {{"Content-Type", type}});
    INFO(type);
    CHECK(r.status == 415);
    CHECK(r.body.find("Content-Type must be application/json") != std::string::npos);
  }
  auto r = http_call(env.port, "POST", "/v1/streams", local_body("q"),
                     {{"Content-Type", "Application/JSON; charset=utf-8"}});
  CHECK(r.status == 201);
  CHECK(env.settles());
}

TEST_CASE("listed origins and askd's own pages may call - and get their origin back") {
  e2e_env env([](askd::core::config& c) { c.server.cors_origins = {"http://localhost:3000"}; });
  auto r = http_call(env.port, "OPTIONS", "/chat/completions/stream", {},
                     {{"Origin", "http://localhost:3000"},
                      {"Access-Control-Request-Method", "POST"},
                      {"Access-Control-Request-Headers", "content-type"}});
  CHECK(r.status == 204);
  CHECK(r.header("access-control-allow-origin") == "http://localhost:3000");
  CHECK(r.header("access-control-allow-headers").find("Content-Type") != std::string::npos);
  CHECK(r.header("vary") == "Origin");
  r = http_call(env.port, "POST", "/chat/completions/stream",
                local_body("where is the retry loop?"), {{"Origin", "http://localhost:3000"}});
  CHECK(r.status == 200);
  CHECK(r.header("access-control-allow-origin") == "http://localhost:3000");
  CHECK(!r.body.empty());
  // Same origin: a page askd itself serves.
  auto own = "http://127.0.0.1:" + std::to_string(env.port);
  r = http_call(env.port, "GET", "/models/config", {},
                {{"Origin", own}, {"Host", "127.0.0.1:" + std::to_string(env.port)}});
  CHECK(r.status == 200);
  CHECK(http_call(env.port, "GET", "/health", {}, {{"Origin", "http://localhost:3001"}}).status ==
        403);
  CHECK(env.settles());
}

TEST_CASE("a loopback askd refuses a Host that is not a loopback name - DNS rebinding") {
  e2e_env env;
  for (const char* host : {"evil.example", "evil.example:8001", "127.0.0.1.nip.io"}) {
    raw_connection c(env.port);
    c.send(std::string("GET /health HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    auto got = c.read_until("}", std::chrono::seconds(10));
    INFO(host);
    CHECK(got.rfind("HTTP/1.1 403", 0) == 0);
    CHECK(got.find("answers only to localhost names") != std::string::npos);
  }
  for (const char* host : {"localhost", "127.0.0.1:1234", "[::1]:8001"}) {
    raw_connection c(env.port);
    c.send(std::string("GET /health HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    INFO(host);
    CHECK(c.read_until("}", std::chrono::seconds(10)).rfind("HTTP/1.1 200", 0) == 0);
  }
  auto ws = ws_converse(env.port, "/ws/chat", "", {{"Host", "evil.example"}}, {local_body("q")},
                        [](const std::string&) {
                          return ws_step{{}, true};
                        });
  CHECK(ws.refused_status == 403);
}

// -- HTTP framing ---------------------------------------------------------------------

TEST_CASE("a Transfer-Encoding other than chunked is refused and the connection closed") {
  e2e_env env;
  // Read as an empty body, the bytes after the head would run as a second request.
  const std::string smuggled = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  struct framing {
    const char* te;
    const char* status;
  };
  for (auto [te, status] :
       {framing{"xchunked", "HTTP/1.1 400"}, framing{"identity", "HTTP/1.1 400"},
        framing{"foo", "HTTP/1.1 400"}, framing{"chunked, gzip", "HTTP/1.1 400"},
        framing{"gzip, chunked", "HTTP/1.1 501"}}) {
    raw_connection c(env.port);
    c.send(std::string("POST /chat/completions/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: ") +
           te + "\r\n\r\n" + smuggled);
    auto got = c.read_all(std::chrono::seconds(10));  // ends: askd closed the connection
    INFO(te << " -> " << got);
    CHECK(got.rfind(status, 0) == 0);
    CHECK(got.find("only chunked") != std::string::npos);
    CHECK(got.find("askd_requests_total") == std::string::npos);  // the second never ran
  }
  // Two framings at once are refused as well.
  raw_connection c(env.port);
  c.send(
      "POST /chat/completions/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
      smuggled);
  auto got = c.read_all(std::chrono::seconds(10));
  CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(got.find("askd_requests_total") == std::string::npos);
  CHECK(alive(env));
}

// -- WebSocket protocol ---------------------------------------------------------------

TEST_CASE("the askd.v1 subprotocol is matched as a whole token") {
  e2e_env env;
  // A lookalike gets the compat socket, which answers a request with raw text frames.
  auto compat =
      ws_converse(env.port, "/ws/chat", "notaskd.v1x", {}, {chat_body("q", R"({"text":"plain"})")},
                  [](const std::string&) { return ws_step{}; });
  CHECK(compat.accepted);
  CHECK(compat.frames == std::vector<std::string>{"plain"});
  // askd.v1 among other offers is chosen: JSON events.
  auto v1 = ws_converse(
      env.port, "/ws/chat", "chat, askd.v1", {},
      {R"({"type":"chat","id":"a","request":)" + chat_body("q", R"({"text":"x"})") + "}"},
      [](const std::string& f) {
        return ws_step{{}, f.find("\"type\":\"done\"") != std::string::npos};
      });
  CHECK(v1.accepted);
  REQUIRE_FALSE(v1.frames.empty());
  CHECK(v1.frames.front().rfind("{\"type\":\"meta\"", 0) == 0);
  CHECK(env.settles());
}

TEST_CASE("a binary frame closes the socket with 1003") {
  e2e_env env;
  auto r = ws_binary(env.port, "/ws/chat", "askd.v1", std::string("\x01\x02\x03", 3));
  CHECK(r.close_code == 1003);
  CHECK(alive(env));
}

TEST_CASE("a close code past 4999 is not echoed back") {
  e2e_env env;
  auto valid = ws_close_with(env.port, "/ws/chat", 4999);
  CHECK(valid.close_code == 4999);  // a private-use code is echoed as RFC 6455 says
  auto invalid = ws_close_with(env.port, "/ws/chat", 65535);
  CHECK(invalid.close_code != 65535);
  CHECK(alive(env));
}

// -- Request fields -------------------------------------------------------------------

TEST_CASE(
    "a repo_url with a NUL byte is refused - and a huge one is neither echoed nor logged whole") {
  e2e_env env;
  auto r = http_call(
      env.port, "POST", "/chat/completions/stream",
      R"({"repo_url":")" ASKD_FIXTURES
      R"(/minirepo\u0000/etc","type":"local","messages":[{"role":"user","content":"q"}]})");
  CHECK(r.status == 400);
  CHECK(r.body.find("repo_url: contains a control character (byte 0)") != std::string::npos);
  std::vector<std::string> lines;
  askd::core::set_log_sink([&](std::string_view l) { lines.emplace_back(l); });
  auto huge = std::string("https://github.com/") + std::string(900 * 1024, 'a');
  r = http_call(env.port, "POST", "/chat/completions/stream",
                R"({"repo_url":")" + huge + R"(","messages":[{"role":"user","content":"q"}]})");
  askd::core::set_log_sink(nullptr);
  CHECK(r.status == 400);
  CHECK(r.body.size() < 1000);
  CHECK(r.body.find("repo_url: at most 2048 bytes") != std::string::npos);
  for (const auto& l : lines) CHECK(l.size() < 4096);
  // A long one under the limit that is refused for its host is cut in the detail.
  auto long_host = "https://" + std::string(1500, 'h') + ".example/a/b";
  r = http_call(
      env.port, "POST", "/chat/completions/stream",
      R"({"repo_url":")" + long_host + R"(","messages":[{"role":"user","content":"q"}]})");
  CHECK(r.status == 403);
  CHECK(r.body.size() < 600);
}

// -- Memory ---------------------------------------------------------------------------

TEST_CASE("bodies in flight are held to the server's budget - past it a 503 before the body") {
  e2e_env env([](askd::core::config& c) { c.server.body_budget_bytes = 8 << 20; });
  const std::size_t length = 1 << 20;  // each says it sends the most a body may be
  const std::string half(length / 2, ' ');
  auto before = resident_bytes();
  std::vector<std::unique_ptr<raw_connection>> parked;
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    auto c = std::make_unique<raw_connection>(env.port);
    // With Expect: 100-continue askd answers the head at once: go on, or 503.
    c->send(
        "POST /chat/completions/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/json\r\nExpect: 100-continue\r\nContent-Length: " +
        std::to_string(length) + "\r\n\r\n");
    auto head = c->read_until("\r\n\r\n", std::chrono::seconds(10));
    if (head.rfind("HTTP/1.1 503", 0) == 0) {
      CHECK(head.find("Retry-After: 1") != std::string::npos);
      ++refused;
      continue;
    }
    REQUIRE(head.rfind("HTTP/1.1 100", 0) == 0);
    REQUIRE(c->try_send(half));  // half a body, parked
    parked.push_back(std::move(c));
  }
  CHECK(parked.size() == 8);
  CHECK(refused == 192);
  // askd answers others while the budget is taken, and holds about the budget, not 200
  // bodies (each would be half a MiB here, a MiB when whole).
  CHECK(alive(env));
  auto grown = resident_growth_since(before);
  INFO("RSS grew by " << grown / 1024 << " KiB");
  if (rss_is_meaningful) CHECK(grown < (40u << 20));
  // The parked bodies end (as garbage JSON: a 400) and give the budget back.
  for (auto& c : parked) {
    REQUIRE(c->try_send(std::string(length - half.size(), ' ')));
    CHECK(c->read_until("}", std::chrono::seconds(10)).find("HTTP/1.1 400") != std::string::npos);
  }
  parked.clear();
  CHECK(http_call(env.port, "POST", "/chat/completions/stream",
                  local_body("where is the retry loop?"))
            .status == 200);
  CHECK(env.settles());
}

TEST_CASE("watchers that do not read share the stream's replay - not a copy each") {
  e2e_env env([](askd::core::config& c) { c.streams.replay_bytes = 8 << 20; });
  // About 3 MB, finished and kept whole.
  auto body = chat_body("q", R"({"words":500000,"chunk":4096,"gap_ms":1})");
  auto id = http_call(env.port, "POST", "/v1/streams", body).body;
  id = id.substr(id.find(':') + 2, 32);
  auto whole = http_call(env.port, "GET", "/v1/streams/" + id, {}, {}, std::chrono::seconds(60));
  REQUIRE(whole.body.find("event: done") != std::string::npos);
  REQUIRE(whole.body.size() > 3000000);
  whole = {};
  auto before = resident_bytes();
  std::vector<std::unique_ptr<raw_connection>> watchers;
  for (int i = 0; i < 100; ++i) {
    auto c = std::make_unique<raw_connection>(env.port, 4096);
    c->send("GET /v1/streams/" + id + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    // It has its first events; then it stops reading.
    REQUIRE(c->read_until("event: meta", std::chrono::seconds(10)).find("event: meta") !=
            std::string::npos);
    watchers.push_back(std::move(c));
  }
  CHECK(alive(env));
  auto grown = resident_growth_since(before);
  INFO("RSS grew by " << grown / 1024 << " KiB for 100 watchers of a " << 3 << " MB replay");
  if (rss_is_meaningful) CHECK(grown < (40u << 20));  // a copy each would be 300 MB
  // Each now reads a little and resets its connection while askd is catching it up: a
  // write that finds the client gone must not re-enter the hub it is called from.
  for (auto& c : watchers) {
    c->read_until("event: delta", std::chrono::seconds(10));
    c->reset();
  }
  watchers.clear();
  CHECK(alive(env));
  CHECK(env.settles());
}

// -- Hostile repositories and filters ---------------------------------------------------

namespace {

// A repository made to hurt whoever indexes it, under a root askd allows.
std::string hostile_root;

void allow_hostile(askd::core::config& c) {
  c.repos.local_roots.push_back(std::filesystem::canonical(hostile_root).string());
}

}  // namespace

TEST_CASE(
    "a repository whose .gitignore is /dev/zero and whose files are links and pipes is indexed "
    "safely") {
  temp_dir root;
  namespace fs = std::filesystem;
  auto repo = root.path + "/repo";
  fs::create_directories(repo + "/src");
  std::ofstream(repo + "/src/retry.cpp")
      << "// the retry loop backs off\nint backoff() { return 1; }\n";
  fs::create_symlink("/dev/zero", repo + "/.gitignore");
  fs::create_symlink("/dev/zero", repo + "/src/.gitignore");
  fs::create_symlink("/etc/passwd", repo + "/src/passwd.cpp");
  fs::create_directory_symlink("/etc", repo + "/src/etc");
  REQUIRE(::mkfifo((repo + "/src/pipe.cpp").c_str(), 0600) == 0);
  hostile_root = root.path;
  e2e_env env(allow_hostile);
  auto before = resident_bytes();
  auto r =
      http_call(env.port, "POST", "/chat/completions/stream",
                local_body("where is the retry loop? root", repo), {}, std::chrono::seconds(60));
  CHECK(r.status == 200);
  CHECK(r.body.find("retry.cpp") != std::string::npos);
  CHECK(r.body.find("root:x:0:0") == std::string::npos);  // /etc/passwd was never read
  if (rss_is_meaningful) CHECK(resident_growth_since(before) < (64u << 20));  // /dev/zero neither
  // A filePath through a link is refused too.
  auto fp = local_body("q", repo);
  fp.insert(fp.size() - 1, R"(,"filePath":"src/passwd.cpp")");
  r = http_call(env.port, "POST", "/v1/chat/stream", fp);
  CHECK(r.body.find("root:x:0:0") == std::string::npos);
  CHECK(r.body.find("filePath") != std::string::npos);
  CHECK(alive(env));
  CHECK(env.settles());
}

TEST_CASE("glob bombs in excluded_files cost microseconds - and too many rules are refused") {
  e2e_env env;
  std::string bombs;
  for (int i = 0; i < 256; ++i)
    bombs += std::string(20 + i % 20, '*') + "ub" + std::to_string(i) + "\n";
  auto body = local_body("where is the retry loop?");
  body.insert(body.size() - 1,
              ",\"excluded_files\":" + askd::core::json::quote(bombs) +
                  ",\"excluded_dirs\":" + askd::core::json::quote(std::string(200, '*') + "x"));
  // Exponential matching took 7 s for one such rule against one path: this would not end.
  auto r =
      http_call(env.port, "POST", "/chat/completions/stream", body, {}, std::chrono::seconds(60));
  CHECK(r.status == 200);
  CHECK(!r.body.empty());
  auto too_many = local_body("q");
  too_many.insert(too_many.size() - 1,
                  ",\"excluded_files\":" + askd::core::json::quote(bombs + "*.x\n"));
  r = http_call(env.port, "POST", "/chat/completions/stream", too_many);
  CHECK(r.status == 400);
  CHECK(r.body.find("excluded_files: at most 256 rules, got 257") != std::string::npos);
  CHECK(env.settles());
}

// -- The disk ----------------------------------------------------------------------------

namespace {
std::string budget_root;

void small_disk(askd::core::config& c) {
  c.repos.local_roots.push_back(std::filesystem::canonical(budget_root).string());
  c.repos.disk_mb = 1;
}

std::uint64_t index_bytes(const std::string& data_dir) {
  std::uint64_t n = 0;
  for (const auto& item : askd::rag::disk_items(data_dir)) n += item.bytes;
  return n;
}
}  // namespace

TEST_CASE("forty different filters build forty indexes - and the disk keeps to its budget") {
  // Every distinct excluded_files is an index of its own; without a budget, 40 requests
  // left 40 index directories and nothing ever removed one.
  askd::test::temp_dir root;
  budget_root = root.path;
  std::filesystem::create_directories(root.path + "/repo/src");
  for (int f = 0; f < 4; ++f) {
    std::ofstream out(root.path + "/repo/src/part" + std::to_string(f) + ".cpp");
    for (int i = 0; i < 800; ++i) out << "int value_" << f << "_" << i << " = " << i << ";\n";
  }
  e2e_env env(small_disk);
  auto repo = root.path + "/repo";
  const std::uint64_t budget = 1 << 20;
  std::uint64_t largest = 0;
  for (int i = 0; i < 40; ++i) {
    auto body = local_body("where is value_1_7?", repo);
    body.insert(body.size() - 1, ",\"excluded_files\":\"*.never" + std::to_string(i) + "\"");
    auto r =
        http_call(env.port, "POST", "/chat/completions/stream", body, {}, std::chrono::seconds(60));
    REQUIRE(r.status == 200);
    CHECK(r.body.find("part1.cpp") != std::string::npos);
    largest = std::max(largest, index_bytes(env.data_dir.path));
  }
  // One index is about a third of the budget: the data dir never held more than the
  // budget and the index being built.
  INFO("largest data dir " << largest << " bytes");
  CHECK(largest > budget / 8);
  CHECK(largest < budget + budget / 2);
  // Removed ones are deleted, not only renamed away; no lock or temporary stays.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto leftovers = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(env.data_dir.path)) {
      auto name = e.path().filename().string();
      if (name.find(".trash-") != std::string::npos || name.find(".tmp-") != std::string::npos ||
          name.find(".lock") != std::string::npos)
        ++n;
    }
    return n;
  };
  while (leftovers() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(leftovers() == 0);
  CHECK(index_bytes(env.data_dir.path) <= budget);
  // The first filter's index was removed: asked again, it is built again and answers.
  auto again = local_body("where is value_1_7?", repo);
  again.insert(again.size() - 1, ",\"excluded_files\":\"*.never0\"");
  auto r =
      http_call(env.port, "POST", "/chat/completions/stream", again, {}, std::chrono::seconds(60));
  CHECK(r.status == 200);
  CHECK(r.body.find("part1.cpp") != std::string::npos);
  CHECK(alive(env));
  CHECK(env.settles());
}

namespace {
std::string slow_root;

void slow_builds(askd::core::config& c) {
  c.repos.local_roots.push_back(std::filesystem::canonical(slow_root).string());
  c.repos.index_timeout_s = 1;
  c.repos.max_concurrent_builds = 1;
}
}  // namespace

TEST_CASE("an index build made to be slow is stopped at its time limit and frees its slot") {
  // The costliest globs found for the linear matcher (bench/RESULTS.md: 0.7 ms a match)
  // against the longest paths Linux allows: 256 rules × 40 files is seconds of matching.
  askd::test::temp_dir root;
  slow_root = root.path;
  std::string deep = root.path + "/repo";
  for (int i = 0; i < 15; ++i) deep += "/" + std::string(255, 'a');
  std::filesystem::create_directories(deep);
  for (int f = 0; f < 40; ++f)
    std::ofstream(deep + "/f" + std::to_string(f) + ".cpp") << "int x;\n";
  std::string rule;
  for (int i = 0; i < 4; ++i) rule += "**/*" + std::string(120, 'a') + "b/";
  std::string rules;
  for (int i = 0; i < 256; ++i) rules += rule + "\n";
  e2e_env env(slow_builds);
  auto body = local_body("q", root.path + "/repo");
  body.insert(body.size() - 1, ",\"excluded_files\":" + askd::core::json::quote(rules));
  auto started = std::chrono::steady_clock::now();
  auto r = http_call(env.port, "POST", "/v1/chat/stream", body, {}, std::chrono::seconds(120));
  auto took = std::chrono::steady_clock::now() - started;
  INFO(r.body);
  CHECK(r.body.find("repos.index_timeout_s (1 s)") != std::string::npos);
  CHECK(r.body.find("\"code\":\"timeout\"") != std::string::npos);
  // The only indexing slot is free again: the fixture repository indexes and answers.
  auto ok = http_call(env.port, "POST", "/chat/completions/stream",
                      local_body("How is the backoff delay computed?"));
  CHECK(ok.status == 200);
  CHECK(ok.body.find("retry_policy.cpp") != std::string::npos);
  CHECK(took < std::chrono::seconds(60));
  CHECK(alive(env));
  CHECK(env.settles());
}
