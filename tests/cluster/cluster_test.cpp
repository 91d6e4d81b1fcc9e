// Three askd processes on loopback acting as one server, askmock in this process as
// their upstream: streams watched, resumed and cancelled from any node, each repository
// indexed once, a node killed with -9, provider limits across the cluster, TLS with the
// cluster's own CA (docs/ARCHITECTURE.md, Cluster).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <thread>

#include <boost/asio.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/cluster.hpp"
#include "apps/askmock/mock_service.hpp"
#include "core/cluster_view.hpp"
#include "core/config.hpp"
#include "core/json.hpp"
#include "net/http_server.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

extern char** environ;

using namespace askd::test;
using namespace std::chrono_literals;

namespace {

// Failure detection as the tests configure it: the loss of a node must show within
// heartbeat + timeout (plus the time to notice on a loaded machine).
constexpr int heartbeat_ms = 100;
constexpr int timeout_ms = 1000;

// askmock in this process: the upstream of every node.
struct upstream {
  std::shared_ptr<askmock::mock_service> mock =
      std::make_shared<askmock::mock_service>(askmock::mock_options{"sk-test"});
  std::unique_ptr<askd::net::http_server> server;
  std::uint16_t port = 0;
  upstream() {
    server = std::make_unique<askd::net::http_server>(mock, askd::net::server_limits{}, 1);
    port = server->listen("127.0.0.1", 0);
    server->run();
  }
};

// TLS files for one node, or none (plain TCP, said so explicitly).
struct tls_files {
  std::string certificate, key, cafile;
};

// A program this test starts: stdout and stderr to `log`; stopped (SIGTERM, or -9 by
// kill()) when the test ends. One that has not exited 20 s after the signal is a failure
// (with its log's end in the report) and is killed: a hang shows where, not as the
// test's timeout.
class child_process {
 public:
  child_process(std::vector<std::string> args, std::vector<std::string> env, const std::string& log)
      : log_(log) {
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    int rc = posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    REQUIRE(rc == 0);
  }
  ~child_process() { stop(SIGTERM); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // SIGSTOP makes a silent node: its sockets stay open, nothing answers. It returns once
  // every thread is stopped: kill() only marks the signal, and a thread that is runnable
  // but off the CPU (a busy machine) stops when it next runs. Until then it may still
  // answer, as a node a test treats as silent did once in CI.
  void signal(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig != SIGSTOP) return;
    auto until = std::chrono::steady_clock::now() + 10s;
    while (!all_stopped() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(1ms);  // polling for a state, not waiting out a race
    CHECK(all_stopped());
  }

  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // a stopped process would not see the signal
    ::kill(pid_, sig);
    int status = 0;
    auto until = std::chrono::steady_clock::now() + 20s;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        if (std::uncaught_exceptions() == 0)
          FAIL_CHECK("pid " << pid_ << " did not exit 20 s after signal " << sig
                            << "; its log ends:\n"
                            << log_tail());
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);  // polling for the exit, not waiting out a race
    }
    pid_ = -1;
  }

 private:
  std::string log_tail() const {
    std::ifstream in(log_);
    std::deque<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
      if (lines.size() > 40) lines.pop_front();
    }
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    return text;
  }

  // Every thread of the process in state T (stopped), from /proc/<pid>/task/*/stat.
  bool all_stopped() const {
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
      std::ifstream stat(task.path() / "stat");
      std::string all((std::istreambuf_iterator<char>(stat)), {});
      auto close = all.rfind(')');
      if (close == std::string::npos || close + 2 >= all.size() || all[close + 2] != 'T')
        return false;
    }
    return !ec;
  }

  pid_t pid_ = -1;
  std::string log_;
};

std::string path_variable() {
  const char* p = std::getenv("PATH");
  return std::string("PATH=") + (p ? p : "/usr/sbin:/usr/bin:/sbin:/bin");
}

bool answers_health(std::uint16_t port) {
  try {
    return http_call(port, "GET", "/health", {}, {}, 1s).status == 200;
  } catch (const std::exception&) {
    return false;  // not listening yet
  }
}

// One askd process: its own data dir, config and log.
class askd_node {
 public:
  askd_node(const std::string& name, std::uint16_t cluster_port, const std::string& seeds,
            const upstream& up, const std::string& extra_json = {},
            const std::optional<tls_files>& tls = std::nullopt)
      : name_(name),
        port_(free_port()),
        cluster_port_(cluster_port),
        log_(dir_.path + "/askd.log") {
    namespace fs = std::filesystem;
    fs::create_directories(dir_.path + "/data");
    std::string cluster = "\"heartbeat_ms\":" + std::to_string(heartbeat_ms) +
                          ",\"timeout_ms\":" + std::to_string(timeout_ms) +
                          ",\"reconnect_ms\":200,\"connect_timeout_ms\":2000";
    if (tls)
      cluster += ",\"certificate\":" + askd::core::json::quote(tls->certificate) +
                 ",\"key\":" + askd::core::json::quote(tls->key) +
                 ",\"cafile\":" + askd::core::json::quote(tls->cafile);
    else
      cluster += ",\"insecure\":true";
    std::ofstream(dir_.path + "/askd.json")
        << "{\"cluster\":{" << cluster << "},\"server\":{\"shutdown_grace_ms\":0},"
        << "\"upstream\":{\"backoff_ms\":5}" << (extra_json.empty() ? "" : ",") << extra_json
        << "}";
    std::vector<std::string> args = {ASKD_BIN,
                                     "--config",
                                     dir_.path + "/askd.json",
                                     "--port",
                                     std::to_string(port_),
                                     "--data-dir",
                                     dir_.path + "/data",
                                     "--allow-local",
                                     ASKD_FIXTURES,
                                     "--cluster-node",
                                     name,
                                     "--cluster-listen",
                                     address()};
    if (!seeds.empty()) {
      args.push_back("--cluster-seeds");
      args.push_back(seeds);
    }
    process_ = std::make_unique<child_process>(
        args,
        std::vector<std::string>{
            "OPENAI_API_KEY=sk-test",
            "OPENAI_BASE_URL=http://127.0.0.1:" + std::to_string(up.port) + "/v1", path_variable()},
        log_);
    INFO(log());
    REQUIRE(eventually([&] { return answers_health(port_); }, 10s));
  }

  // In the sanitizer build a node's reports go to its log: any fails the test.
  ~askd_node() {
    process_.reset();
    auto text = log();
    for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"})
      if (text.find(report) != std::string::npos) FAIL_CHECK("node " << name_ << ":\n" << text);
  }

  void kill() { process_->stop(SIGKILL); }
  void signal(int sig) { process_->signal(sig); }
  std::uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(cluster_port_); }
  std::string log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The base of the quorum as this node judges it (GET /v1/cluster), -1 without one.
  int quorum_base() const {
    auto r = http_call(port_, "GET", "/v1/cluster", {}, {}, 5s);
    rapidjson::Document d;
    if (r.status != 200 || !askd::core::json::try_parse(r.body, d) || !d.HasMember("quorum"))
      return -1;
    return d["quorum"]["base"].GetInt();
  }

  // The state this node sees `node` in ("" when it does not know it).
  std::string state_of(const std::string& node) const {
    auto r = http_call(port_, "GET", "/v1/cluster", {}, {}, 5s);
    rapidjson::Document d;
    if (r.status != 200 || !askd::core::json::try_parse(r.body, d)) return "";
    for (const auto& n : d["nodes"].GetArray())
      if (n["name"].GetString() == node) return n["state"].GetString();
    return "";
  }
  // One number of /metrics (the first line starting with `name`).
  std::int64_t metric(const std::string& name) const {
    auto body = http_call(port_, "GET", "/metrics", {}, {}, 5s).body;
    auto at = body.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stoll(body.substr(at + name.size() + 2));
  }

 private:
  temp_dir dir_;
  std::string name_;
  std::uint16_t port_;
  std::uint16_t cluster_port_;
  std::string log_;
  std::unique_ptr<child_process> process_;
};

// Whether every node of `nodes` sees every other up.
bool all_up(const std::vector<askd_node*>& nodes) {
  for (auto* n : nodes)
    for (auto* m : nodes)
      if (n != m && n->state_of(m->name()) != "up") return false;
  return true;
}

// Three nodes: a, b joining through a, c joining through b (so c learns a from b).
struct three_nodes {
  upstream up;
  std::uint16_t pa = free_port(), pb = free_port(), pc = free_port();
  std::unique_ptr<askd_node> a, b, c;
  explicit three_nodes(const std::string& extra = {}) {
    a = std::make_unique<askd_node>("a", pa, "", up, extra);
    b = std::make_unique<askd_node>("b", pb, a->address(), up, extra);
    c = std::make_unique<askd_node>("c", pc, b->address(), up, extra);
    REQUIRE(eventually([&] { return all_up(); }, 10s));
  }
  std::vector<askd_node*> nodes() { return {a.get(), b.get(), c.get()}; }
  bool all_up() { return ::all_up(nodes()); }
};

std::string stream_id_of(const http_reply& r) {
  rapidjson::Document d;
  REQUIRE(askd::core::json::try_parse(r.body, d));
  return d["stream_id"].GetString();
}

std::string v1_body(const std::string& question, const std::string& mock) {
  return chat_body(question, mock, "openai");
}

const std::vector<std::pair<std::string, std::string>> json_headers = {
    {"Content-Type", "application/json"}};

// A background stream on `node` (POST /v1/streams) answering as askmock's `mock` says;
// its id.
std::string start_stream(const askd_node& node, const std::string& question,
                         const std::string& mock) {
  auto started =
      http_call(node.port(), "POST", "/v1/streams", v1_body(question, mock), json_headers);
  REQUIRE(started.status == 201);
  return stream_id_of(started);
}

// The events of a finished v1 stream as text, from `after` on.
std::string events_text(const std::vector<sse_event>& events) {
  std::string t;
  for (const auto& e : events) t += e.id + "|" + e.event + "|" + e.data + "\n";
  return t;
}

}  // namespace

TEST_CASE("a stream started on one node is resumed on a second and watched on a third byte-exact") {
  three_nodes cluster;
  // An answer that lasts about a second: 60 deltas 15 ms apart.
  auto id = start_stream(*cluster.a, "tell me", R"({"deltas":60,"gap_ms":15})");
  CHECK(id.rfind("a.", 0) == 0);  // the id names its node
  // Running upstream, and `meta` (event 1) is out: released to clients once the stream's
  // replica has it (group commit) — before that a resume after it is "not happened yet"
  // (a 400 seen under CI's load).
  REQUIRE(eventually([&] { return cluster.up.mock->stats().active == 1; }));
  REQUIRE(eventually([&] { return cluster.a->metric("askd_replica_commit_seconds_count") >= 1; }));
  // Resumed on b after event 1 and watched whole on c, both while it runs.
  http_reply on_b, on_c;
  std::thread tb([&] {
    on_b = http_call(cluster.b->port(), "GET", "/v1/streams/" + id, {}, {{"Last-Event-ID", "1"}});
  });
  std::thread tc([&] { on_c = http_call(cluster.c->port(), "GET", "/v1/streams/" + id); });
  tb.join();
  tc.join();
  auto on_a = http_call(cluster.a->port(), "GET", "/v1/streams/" + id);  // lingering: all of it
  REQUIRE(on_a.status == 200);
  REQUIRE(on_b.status == 200);
  REQUIRE(on_c.status == 200);
  auto all = parse_sse(on_a.body);
  REQUIRE(all.size() > 60);
  CHECK(all.back().event == "done");
  CHECK(on_c.body == on_a.body);
  auto from_b = parse_sse(on_b.body);
  CHECK(events_text(from_b) == events_text({all.begin() + 1, all.end()}));
  // A stream of a node that is not in the cluster, or not on its node: the same 404.
  CHECK(http_call(cluster.b->port(), "GET", "/v1/streams/z.0123").status == 404);
  CHECK(http_call(cluster.b->port(), "GET", "/v1/streams/a.0123").status == 404);
  CHECK(http_call(cluster.c->port(), "DELETE", "/v1/streams/a.0123").status == 404);
}

TEST_CASE("an answer larger than the relay's window crosses nodes byte-exact") {
  three_nodes cluster;
  // ~300 KB in ~1,000 events: the owner waits for the watcher's acks many times over.
  auto id = start_stream(*cluster.a, "a big one", R"({"words":50000,"chunk":300,"gap_ms":1})");
  auto on_b = http_call(cluster.b->port(), "GET", "/v1/streams/" + id);
  auto on_a = http_call(cluster.a->port(), "GET", "/v1/streams/" + id);
  REQUIRE(on_a.status == 200);
  CHECK(on_a.body.size() > 300000);
  CHECK(on_b.body == on_a.body);
}

TEST_CASE("a DELETE on one node cancels the upstream call of the stream's node") {
  three_nodes cluster;
  auto id = start_stream(*cluster.a, "a long one", R"({"deltas":2000,"gap_ms":20})");
  REQUIRE(eventually([&] { return cluster.up.mock->stats().active == 1; }));
  CHECK(http_call(cluster.c->port(), "DELETE", "/v1/streams/" + id).status == 204);
  CHECK(eventually([&] { return cluster.up.mock->stats().active == 0; }));
  CHECK(cluster.up.mock->stats().disconnects == 1);
  auto end = parse_sse(http_call(cluster.b->port(), "GET", "/v1/streams/" + id).body);
  REQUIRE(!end.empty());
  CHECK(end.back().event == "done");
  CHECK(end.back().data.find("cancelled") != std::string::npos);
}

TEST_CASE("three nodes asked about one repository at once index it once") {
  three_nodes cluster;
  std::vector<http_reply> answers(3);
  std::vector<std::thread> threads;
  auto nodes = cluster.nodes();
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      answers[i] = http_call(nodes[i]->port(), "POST", "/api/chat/stream",
                             local_body("How is the backoff delay computed?"), json_headers);
    });
  for (auto& t : threads) t.join();
  std::int64_t builds = 0;
  for (auto* n : nodes) builds += n->metric("askd_index_builds_total");
  CHECK(builds == 1);
  for (const auto& a : answers) {
    CHECK(a.status == 200);
    CHECK(a.body.find("backoff") != std::string::npos);
    CHECK(a.body == answers[0].body);  // the same sources, the same extract
  }
}

TEST_CASE("when a repository's owner is killed the others rebuild it at the new owner") {
  three_nodes cluster;
  auto ask = [&](askd_node& n) {
    return http_call(n.port(), "POST", "/api/chat/stream",
                     local_body("How is the backoff delay computed?"), json_headers);
  };
  auto first = ask(*cluster.a);
  REQUIRE(first.status == 200);
  askd_node* owner = nullptr;
  for (auto* n : cluster.nodes())
    if (n->metric("askd_index_builds_total") == 1) owner = n;
  REQUIRE(owner);
  std::vector<askd_node*> others;
  for (auto* n : cluster.nodes())
    if (n != owner) others.push_back(n);
  auto lost = owner->name();
  owner->kill();
  // Both survivors see the loss within heartbeat + timeout (a killed process's
  // connections reset at once; a silent node takes the timeout).
  for (auto* n : others)
    CHECK(eventually([&] { return n->state_of(lost) == "down"; },
                     std::chrono::milliseconds(heartbeat_ms + timeout_ms + 1000)));
  for (auto* n : others) {
    auto again = ask(*n);
    CHECK(again.status == 200);
    CHECK(again.body == first.body);
  }
  std::int64_t builds = 0;
  for (auto* n : others) builds += n->metric("askd_index_builds_total");
  CHECK(builds == 1);  // at the new owner only
  // The node comes back under its name and address, and rejoins.
  auto& slot = owner == cluster.a.get()   ? cluster.a
               : owner == cluster.b.get() ? cluster.b
                                          : cluster.c;
  auto port = owner == cluster.a.get()   ? cluster.pa
              : owner == cluster.b.get() ? cluster.pb
                                         : cluster.pc;
  slot = std::make_unique<askd_node>(lost, port, others[0]->address(), cluster.up);
  CHECK(eventually([&] { return cluster.all_up(); }, 10s));
  auto back = ask(*slot);
  CHECK(back.status == 200);
  CHECK(back.body == first.body);
}

TEST_CASE("a search in flight to an owner that goes silent is answered by the new owner") {
  three_nodes cluster;
  auto ask = [&](askd_node& n) {
    return http_call(n.port(), "POST", "/api/chat/stream",
                     local_body("How is the backoff delay computed?"), json_headers);
  };
  auto first = ask(*cluster.a);
  REQUIRE(first.status == 200);
  askd_node* owner = nullptr;
  for (auto* n : cluster.nodes())
    if (n->metric("askd_index_builds_total") == 1) owner = n;
  REQUIRE(owner);
  askd_node* asker = owner == cluster.a.get() ? cluster.b.get() : cluster.a.get();
  // Stopped, the owner's sockets stay open: the search waits until the heartbeat timeout
  // declares it down, then goes to whoever owns the key now.
  owner->signal(SIGSTOP);
  auto again = ask(*asker);
  // Failed once in CI in 0.12 s (answered, no retry, no build at the others): the logs
  // of that run say where the search went.
  std::string logs;
  for (auto* n : cluster.nodes())
    logs += "\n--- " + n->name() + " (builds " +
            (n == owner ? "?" : std::to_string(n->metric("askd_index_builds_total"))) + "):\n" +
            n->log();
  INFO("owner " << owner->name() << ", asker " << asker->name() << logs);
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  CHECK(asker->log().find("msg=\"retrieval retried\"") != std::string::npos);
  std::int64_t builds = 0;
  for (auto* n : cluster.nodes())
    if (n != owner) builds += n->metric("askd_index_builds_total");
  CHECK(builds == 1);  // the new owner's
  owner->signal(SIGCONT);
}

TEST_CASE("a WebSocket cancel on one node reaches the stream's node") {
  three_nodes cluster;
  auto id = start_stream(*cluster.a, "a long one", R"({"deltas":2000,"gap_ms":20})");
  REQUIRE(eventually([&] { return cluster.up.mock->stats().active == 1; }));
  // The stream's cancel, then one for a stream that is not there (its error ends the talk).
  auto r = ws_converse(
      cluster.c->port(), "/ws/chat", "askd.v1", {},
      {R"({"type":"cancel","id":"1","stream_id":")" + id + R"("})",
       R"({"type":"cancel","id":"2","stream_id":"a.0123"})"},
      [](const std::string&) {
        return ws_step{{}, true};
      },
      10s);
  REQUIRE(r.frames.size() == 1);
  CHECK(r.frames[0].find(R"("id":"2")") != std::string::npos);
  CHECK(r.frames[0].find("no stream a.0123") != std::string::npos);
  CHECK(eventually([&] { return cluster.up.mock->stats().active == 0; }));
}

TEST_CASE("a provider limit of 30 across three nodes admits at most 30 calls at once") {
  three_nodes cluster(
      R"("limits":{"providers":{"default":{"max_concurrent":30,"max_queued":200}}})");
  for (auto* n : cluster.nodes())
    CHECK(n->metric("askd_limiter_capacity{limiter=\"provider:openai\"}") == 10);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  auto nodes = cluster.nodes();
  for (int i = 0; i < 90; ++i)
    threads.emplace_back([&, i] {
      auto r =
          http_call(nodes[i % 3]->port(), "POST", "/api/chat/stream",
                    v1_body("q" + std::to_string(i), R"({"deltas":10,"gap_ms":30})"), json_headers);
      if (r.status == 200) ok++;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 90);
  CHECK(cluster.up.mock->stats().peak_active <= 30);
  CHECK(cluster.up.mock->stats().peak_active >= 20);  // the shares were used, not 1 node's
}

namespace {

// Runs a command line; its exit code.
int run(const std::string& command) {
  return run_command(command + " >/dev/null 2>&1").code;
}

// A CA and a certificate it signs for each name, with the openssl command line tool.
void make_certificates(const std::string& dir, const std::string& ca,
                       const std::vector<std::string>& names) {
  REQUIRE(run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + ca + " -keyout " +
              dir + "/" + ca + ".key -out " + dir + "/" + ca + ".pem") == 0);
  for (const auto& n : names) {
    auto base = dir + "/" + n;
    REQUIRE(run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + n + " -keyout " + base +
                ".key -out " + base + ".csr") == 0);
    REQUIRE(run("openssl x509 -req -days 2 -in " + base + ".csr -CA " + dir + "/" + ca +
                ".pem -CAkey " + dir + "/" + ca + ".key -CAcreateserial -out " + base + ".pem") ==
            0);
  }
}

tls_files tls_for(const std::string& dir, const std::string& name, const std::string& ca) {
  return {dir + "/" + name + ".pem", dir + "/" + name + ".key", dir + "/" + ca + ".pem"};
}

}  // namespace

TEST_CASE("nodes of the cluster's CA talk over TLS and a peer of another CA is refused") {
  temp_dir certs;
  make_certificates(certs.path, "ca", {"a", "b"});
  make_certificates(certs.path, "other", {"x"});
  upstream up;
  auto pa = free_port(), pb = free_port(), px = free_port();
  askd_node a("a", pa, "", up, {}, tls_for(certs.path, "a", "ca"));
  askd_node b("b", pb, a.address(), up, {}, tls_for(certs.path, "b", "ca"));
  REQUIRE(eventually([&] { return a.state_of("b") == "up" && b.state_of("a") == "up"; }, 10s));
  // A stream crosses the TLS link byte-exact.
  auto id = start_stream(a, "over tls", R"({"deltas":20,"gap_ms":5})");
  auto on_b = http_call(b.port(), "GET", "/v1/streams/" + id);
  auto on_a = http_call(a.port(), "GET", "/v1/streams/" + id);
  CHECK(on_b.status == 200);
  CHECK(on_b.body == on_a.body);
  // x's certificate is signed by another CA: the handshake fails, it never becomes a member.
  askd_node x("x", px, a.address() + "," + b.address(), up, {}, tls_for(certs.path, "x", "other"));
  CHECK(
      eventually([&] { return x.log().find("cluster connect failed") != std::string::npos; }, 10s));
  CHECK(a.state_of("x") == "");
  CHECK(b.state_of("x") == "");
  CHECK(x.state_of("a") == "");
  // a and b stay (or come back) together: CAF drops one live TLS connection after a failed
  // handshake (docs/ARCHITECTURE.md, Cluster), and the nodes reconnect.
  CHECK(eventually([&] { return a.state_of("b") == "up" && b.state_of("a") == "up"; }, 10s));
}

TEST_CASE(
    "a peer of another askd build is refused with a clear log line - so are a malformed one and a "
    "taken name") {
  upstream up;
  askd_node a("a", free_port(), "", up);
  // A peer speaking BASP from this process, with our types but another version.
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  askd::actors::add_cluster_types(cfg);
  cfg.set("scheduler.max-threads", std::size_t{1});
  // Heartbeats as the nodes send them: a node drops a peer silent past its timeout.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(heartbeat_ms)});
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  askd::actors::cluster_actor peer;
  auto hp = askd::core::parse_host_port(a.address());
  self->request(system.middleman().actor_handle(), 5s, caf::connect_atom::value, hp->first,
                hp->second)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            peer = caf::actor_cast<askd::actors::cluster_actor>(ptr);
          },
          [&](caf::error& err) { FAIL(system.render(err)); });
  REQUIRE(peer);
  auto introduce = [&](askd::actors::node_hello h) {
    std::string answered;
    self->request(peer, 5s, askd::actors::hello_atom::value, std::move(h))
        .receive([&](askd::actors::node_hello& theirs) { answered = theirs.name; },
                 [&](caf::error& err) { FAIL(system.render(err)); });
    return answered;
  };
  // It answers (so the other side can refuse too) but does not take the peer in.
  CHECK(introduce({"old", "0.0.1/caf-0.17.6", "127.0.0.1:1", 1, {}}) == "a");
  CHECK(a.state_of("old") == "refused");
  // Refused, it gets nothing served.
  bool served = false;
  self->request(peer, 5s, askd::actors::cancel_atom::value, std::string("a.0123"), std::string())
      .receive([&](bool) { served = true; }, [&](caf::error&) {});
  CHECK_FALSE(served);
  auto log = a.log();
  CHECK(log.find("msg=\"cluster peer refused\" peer=old") != std::string::npos);
  CHECK(log.find("all nodes must run the same build") != std::string::npos);
  CHECK(introduce({std::string(5000, 'x'), askd::actors::cluster_version(), "nowhere", 1, {}}) ==
        "a");
  CHECK(a.log().find("sent a malformed introduction") != std::string::npos);
  CHECK(a.state_of(std::string(5000, 'x')) == "");
  // A second node given a member's name.
  askd_node b("b", free_port(), a.address(), up);
  REQUIRE(eventually([&] { return a.state_of("b") == "up"; }, 10s));
  CHECK(introduce({"b", askd::actors::cluster_version(), "127.0.0.1:1", 1, {}}) == "a");
  CHECK(a.log().find("the name is taken by the member at " + b.address()) != std::string::npos);
  CHECK(a.state_of("b") == "up");
  CHECK(http_call(a.port(), "GET", "/health").status == 200);
}

namespace {

// Debian's nginx in front of the nodes, round robin, as an operator would put it: SSE
// unbuffered, WebSocket upgrades passed, the client's Host kept (askd bound to loopback
// answers only to loopback names).
class balancer {
 public:
  balancer(const std::vector<askd_node*>& nodes) : port_(free_port()) {
    std::filesystem::create_directories(dir_.path + "/tmp");
    std::string upstreams;
    for (auto* n : nodes) upstreams += "    server 127.0.0.1:" + std::to_string(n->port()) + ";\n";
    std::ofstream(dir_.path + "/nginx.conf")
        << (::geteuid() == 0 ? "user root;\n" : "") << "worker_processes 1;\n"
        << "pid " << dir_.path << "/nginx.pid;\n"
        << "error_log " << dir_.path << "/error.log;\n"
        << "events { worker_connections 4096; }\n"
        << "http {\n  access_log off;\n"
        << "  client_body_temp_path " << dir_.path << "/tmp/body;\n"
        << "  proxy_temp_path " << dir_.path << "/tmp/proxy;\n"
        << "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }\n"
        << "  upstream askd {\n"
        << upstreams << "  }\n"
        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
        << "    location / {\n      proxy_pass http://askd;\n      proxy_http_version 1.1;\n"
        << "      proxy_set_header Host $host;\n"
        << "      proxy_set_header Upgrade $http_upgrade;\n"
        << "      proxy_set_header Connection $connection_upgrade;\n"
        << "      proxy_buffering off;\n      proxy_read_timeout 120s;\n    }\n  }\n}\n";
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{nginx_binary(), "-p", dir_.path, "-c", dir_.path + "/nginx.conf",
                                 "-g", "daemon off;"},
        std::vector<std::string>{path_variable()}, dir_.path + "/nginx.log");
    REQUIRE(eventually([&] { return answers_health(port_); }, 10s));
  }
  std::uint16_t port() const { return port_; }

 private:
  temp_dir dir_;
  std::uint16_t port_;
  std::unique_ptr<child_process> process_;
};

}  // namespace

TEST_CASE(
    "behind nginx every compat and v1 stream is exact - resumes landing on other nodes included") {
  if (nginx_binary().empty()) {
    WARN("nginx is not installed (./dev test installs nginx-light): skipped");
    return;
  }
#ifdef ASKD_SANITIZED
  // Under ASan this is 15 s of CI's budget for paths the other cluster tests already run
  // sanitized (remote watching, resumes); the main build runs it.
  WARN("the balancer test runs in the main build only");
  return;
#endif
  three_nodes cluster;
  balancer lb(cluster.nodes());
  temp_dir dir;
  auto mix = dir.path + "/mix.jsonl";
  {
    std::ofstream out(mix);
    for (int i = 0; i < 6; ++i)
      out << chat_body("question " + std::to_string(i),
                       R"({"deltas":)" + std::to_string(20 + i * 5) + R"(,"gap_ms":10})")
          << "\n";
  }
  auto url = " --url http://127.0.0.1:" + std::to_string(lb.port());
  for (std::string target : {"compat-http", "v1-sse --drop-after 5", "v1-ws --drop-after 5"}) {
    INFO(target);
    auto r = run_command(std::string(ASKLOAD_BIN) + url + " --target " + target +
                         " -c 12 -n 36 --verify --json --quiet --mix " + mix);
    CHECK(r.code == 0);
    rapidjson::Document d;
    REQUIRE(askd::core::json::try_parse(r.out, d));
    CHECK(d["ok"].GetInt() == 36);
    CHECK(d["verify"]["exact"].GetInt() == 36);
  }
  // The resumes went through the balancer to whichever node was next: some to a node
  // that did not own the stream.
  std::int64_t remote = 0;
  for (auto* n : cluster.nodes()) remote += n->metric("askd_remote_watches_total");
  CHECK(remote > 0);
}

TEST_CASE("a taken cluster port stops askd at start with a message that says so") {
  // Held by this process for the test's length.
  auto taken = free_port();
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor holder(io, {boost::asio::ip::make_address("127.0.0.1"), taken});
  temp_dir dir;
  std::ofstream(dir.path + "/askd.json") << R"({"cluster":{"insecure":true}})";
  auto r = run_command(std::string(ASKD_BIN) + " --config " + dir.path + "/askd.json --port 0" +
                       " --data-dir " + dir.path +
                       " --cluster-listen 127.0.0.1:" + std::to_string(taken) + " 2>&1");
  CHECK(r.code == 1);
  CHECK(r.out.find("cannot listen for the cluster on 127.0.0.1:" + std::to_string(taken)) !=
        std::string::npos);
}

// ---- failover (actors/replication.hpp) ----------------------------------------------------

namespace {

// The body of a raw HTTP/1.1 response read so far, its chunked framing removed; a chunk
// cut off by the connection's end gives what came of it.
std::string dechunk(const std::string& raw) {
  auto at = raw.find("\r\n\r\n");
  if (at == std::string::npos) return {};
  std::string body;
  for (auto pos = at + 4; pos < raw.size();) {
    auto eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) break;
    auto size = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    if (size == 0) break;
    body += raw.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return body;
}

// The events of an SSE body cut off anywhere: the complete ones.
std::vector<sse_event> complete_events(std::string body) {
  auto end = body.rfind("\n\n");
  body.resize(end == std::string::npos ? 0 : end + 2);
  return parse_sse(body);
}

// A client reading a stream on `node` over a connection of its own, as far as it got.
class watcher {
 public:
  watcher(const askd_node& node, const std::string& id) : c_(node.port()) {
    // Closed after the response: reading to the end is reading to the stream's end.
    c_.send("GET /v1/streams/" + id + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  }
  // Reads until event `seq` has come (or `deadline`).
  void read_past(std::uint64_t seq, std::chrono::milliseconds deadline = 10s) {
    raw_ = c_.read_until("\nid: " + std::to_string(seq) + "\n", deadline);
  }
  // Reads until `needle` has come (or `deadline`).
  void read_until(const std::string& needle, std::chrono::milliseconds deadline = 10s) {
    raw_ = c_.read_until(needle, deadline);
  }
  // Reads until the connection ends (or `deadline`).
  void read_to_end(std::chrono::milliseconds deadline = 15s) { raw_ = c_.read_all(deadline); }
  std::vector<sse_event> events() const { return complete_events(dechunk(raw_)); }

 private:
  raw_connection c_;
  std::string raw_;
};

// The node of `nodes` holding a copy of one stream of another node's.
askd_node* replica_among(const std::vector<askd_node*>& nodes) {
  askd_node* found = nullptr;
  eventually([&] {
    for (auto* n : nodes)
      if (n->metric("askd_replicas_held") == 1) found = n;
    return found != nullptr;
  });
  return found;
}

// What the first reader saw, then what a resume after its last event read: one answer,
// numbered on without a gap.
std::string joined_text(const std::vector<sse_event>& first, const std::vector<sse_event>& rest) {
  REQUIRE(!first.empty());
  REQUIRE(!rest.empty());
  CHECK(std::stoull(rest.front().id) == std::stoull(first.back().id) + 1);
  return sse_text(first) + sse_text(rest);
}

// A client that had `seen` resumes on `node` after its last event: what it reads, which
// is the rest of the stream to its end.
std::vector<sse_event> resumed_to_end(const askd_node& node, const std::string& id,
                                      const std::vector<sse_event>& seen) {
  REQUIRE(!seen.empty());
  auto rest = http_call(node.port(), "GET", "/v1/streams/" + id, {},
                        {{"Last-Event-ID", seen.back().id}}, 30s);
  INFO(rest.body << "\nseen " << seen.size() << ", the last " << seen.back().id << " "
                 << seen.back().event);
  REQUIRE(rest.status == 200);
  auto after = parse_sse(rest.body);
  REQUIRE(!after.empty());
  CHECK(after.back().event == "done");
  return after;
}

}  // namespace

TEST_CASE("a stream whose node is killed mid-answer is read whole and once through the others") {
  three_nodes cluster;
  const std::string mock = R"({"deltas":80,"gap_ms":25})";
  auto id = start_stream(*cluster.a, "tell me", mock);
  auto* replica = replica_among({cluster.b.get(), cluster.c.get()});
  REQUIRE(replica);
  auto* other = replica == cluster.b.get() ? cluster.c.get() : cluster.b.get();
  watcher w(*cluster.a, id);
  // A client watching through the third node: its node attaches it again where the
  // stream lives now, and it reads on without a break.
  watcher through(*other, id);
  w.read_past(30);
  cluster.a->kill();
  w.read_to_end(2s);
  auto seen = w.events();
  REQUIRE(seen.size() >= 30);
  CHECK(seen.back().event != "done");
  through.read_to_end(30s);
  auto unbroken = through.events();
  REQUIRE(!unbroken.empty());
  CHECK(unbroken.back().event == "done");
  for (std::size_t i = 0; i < unbroken.size(); ++i) CHECK(unbroken[i].id == std::to_string(i + 1));
  // Resumed through the node that is not the replica: routed to the one that took it over.
  auto after = resumed_to_end(*other, id, seen);
  CHECK(after.back().data.find("\"failover\"") != std::string::npos);
  CHECK(after.back().data.find("\"continued\"") != std::string::npos);
  auto text = joined_text(seen, after);
  // The same question answered with nothing lost: the same text, no character twice.
  auto reference = http_call(replica->port(), "POST", "/v1/chat/stream", v1_body("tell me", mock),
                             json_headers, 30s);
  REQUIRE(reference.status == 200);
  CHECK(text == sse_text(parse_sse(reference.body)));
  CHECK(sse_text(unbroken) == text);
  // Read from the start on the new owner: the whole answer, under the same numbers.
  auto whole = parse_sse(http_call(replica->port(), "GET", "/v1/streams/" + id).body);
  CHECK(sse_text(whole) == text);
  CHECK(events_text({whole.begin(), whole.begin() + static_cast<long>(seen.size())}) ==
        events_text(seen));
  CHECK(replica->metric("askd_takeovers_total") == 1);
  // The killed node comes back, rejoins, and takes new (replicated) work.
  cluster.a = std::make_unique<askd_node>("a", cluster.pa, replica->address(), cluster.up);
  REQUIRE(eventually([&] { return cluster.all_up(); }, 10s));
  auto again = start_stream(*cluster.a, "again", R"({"deltas":5})");
  auto done = parse_sse(http_call(cluster.a->port(), "GET", "/v1/streams/" + again).body);
  REQUIRE(!done.empty());
  CHECK(done.back().event == "done");
  CHECK(cluster.a->metric("askd_replica_events_total") >= static_cast<std::int64_t>(done.size()));
}

TEST_CASE("a stream whose replica is lost gets another and survives its owner's loss after") {
#ifdef ASKD_SANITIZED
  // Under ASan: CI's budget. The takeover, re-routing, fencing and rejoin paths run
  // sanitized in the kill and partition tests; the main build runs this one.
  WARN("this failover test runs in the main build only");
  return;
#endif
  three_nodes cluster;
  // Long enough (5 s) that the stream is still open when its owner has found the loss
  // and copied it to the node left, even on a machine busy with other tests (at 3 s a
  // run beside the sanitizer suite once ended the stream first: nothing was moved).
  const std::string mock = R"({"deltas":200,"gap_ms":25})";
  auto id = start_stream(*cluster.a, "tell me more", mock);
  auto* replica = replica_among({cluster.b.get(), cluster.c.get()});
  REQUIRE(replica);
  auto* last = replica == cluster.b.get() ? cluster.c.get() : cluster.b.get();
  replica->kill();
  // The owner copies the whole stream to the node left, and goes on. On failure the
  // owner's log says why. It failed in CI when the replica was killed after taking its
  // copy but before its answer reached the owner, which then fenced the stream (an earlier
  // failure, its log not kept, was likely the same): such a replica is now replaced (the
  // test after this one makes that case on purpose).
  if (!eventually([&] { return cluster.a->metric("askd_replicas_moved_total") == 1; }, 10s))
    FAIL("no replica moved; the owner's log:\n" << cluster.a->log());
  CHECK(last->metric("askd_replicas_held") == 1);
  // The two left count on each other once the loss has lasted a detection time.
  REQUIRE(eventually([&] { return last->quorum_base() == 2; }, 10s));
  watcher w(*cluster.a, id);
  w.read_past(60);
  cluster.a->kill();
  w.read_to_end(2s);
  auto seen = w.events();
  REQUIRE(seen.size() >= 60);
  // One node of three is left: it takes the stream over (it saw the first loss with the
  // owner, so it counts on two, and sees half of them).
  auto after = resumed_to_end(*last, id, seen);
  auto reference = http_call(last->port(), "POST", "/v1/chat/stream", v1_body("tell me more", mock),
                             json_headers, 30s);
  CHECK(joined_text(seen, after) == sse_text(parse_sse(reference.body)));
}

TEST_CASE("a replica that never answers its copy is replaced - the stream is not fenced") {
#ifdef ASKD_SANITIZED
  // Under ASan: CI's budget; and its first streams must start within the second before
  // the owner finds c silent, which a sanitized node is too slow to promise.
  WARN("this failover test runs in the main build only");
  return;
#endif
  three_nodes cluster;
  // c stops: up in every view until the heartbeat timeout finds it silent, it answers
  // nothing meanwhile. In CI a replica died between taking a stream's copy and answering
  // (the test before this one); the owner's wait for the answer took the whole of
  // timeout_ms, and it then fenced the stream instead of copying it to b.
  cluster.c->signal(SIGSTOP);
  // A stream whose replica is to be c: the owner picks the best of b and c for its id.
  const std::string mock = R"({"deltas":200,"gap_ms":25})";
  // Found before the owner finds c silent (a second): the others are cancelled after.
  std::string id;
  std::vector<std::string> others;
  for (int i = 0; i < 40 && id.empty(); ++i) {
    auto started = start_stream(*cluster.a, "which replica?", mock);
    if (askd::core::rendezvous_owner(started, {{"b", 1.0}, {"c", 1.0}}) == "c")
      id = started;
    else
      others.push_back(started);
  }
  REQUIRE(!id.empty());
  REQUIRE(cluster.a->state_of("c") == "up");  // so its first copy went to c
  for (const auto& other : others) http_call(cluster.a->port(), "DELETE", "/v1/streams/" + other);
  // Unanswered, c counts as lost; b takes the copy once it has found c silent too.
  if (!eventually([&] { return cluster.a->metric("askd_replicas_moved_total") == 1; }, 10s))
    FAIL("no replica moved; the owner's log:\n" << cluster.a->log());
  CHECK(cluster.a->metric("askd_streams_fenced_total") == 0);
  auto events =
      parse_sse(http_call(cluster.a->port(), "GET", "/v1/streams/" + id, {}, {}, 30s).body);
  REQUIRE(!events.empty());
  CHECK(events.back().event == "done");
  cluster.c->signal(SIGCONT);
}

TEST_CASE(
    "a node that joined while a stream ran passes its clients to the node that took it over") {
  // Two nodes: a stream's replica is the only other one. A third joins during the stream
  // and, for the ids chosen here, ranks above the replica once the owner is lost: a
  // resume, a watch and a DELETE routed to it must reach the replica that took over.
  // The third says it does not serve them, and the asking node tries the next: either the
  // taker copies what it took over on to the third (whose copy's taker is up), or
  // (replication off on the taker) the third has no copy at all.
  const bool onward = GENERATE(true, false);
  INFO("the taker copies the streams on: " << onward);
  upstream up;
  auto pa = free_port(), pb = free_port(), pc = free_port();
  auto a = std::make_unique<askd_node>("a", pa, "", up);
  auto b = std::make_unique<askd_node>("b", pb, a->address(), up,
                                       onward ? "" : R"("streams":{"replicate":false})");
  REQUIRE(eventually([&] { return a->state_of("b") == "up" && b->state_of("a") == "up"; }, 10s));
  // Long (15 s): still running when c has joined and a is killed, on a busy machine too.
  const std::string mock = R"({"deltas":600,"gap_ms":25})";
  std::vector<std::string> ids, others;
  for (int i = 0; i < 40 && ids.size() < 2; ++i) {
    auto started = start_stream(*a, "who has it now?", mock);
    auto first = askd::core::rendezvous_owner(started, {{"b", 1.0}, {"c", 1.0}});
    (first == "c" ? ids : others).push_back(started);
  }
  REQUIRE(ids.size() == 2);
  for (const auto& other : others) http_call(a->port(), "DELETE", "/v1/streams/" + other);
  auto c = std::make_unique<askd_node>("c", pc, b->address(), up);
  REQUIRE(eventually([&] { return all_up({a.get(), b.get(), c.get()}); }, 10s));
  watcher w(*a, ids[0]);
  watcher through(*c, ids[0]);  // c routes it to a while a is up
  w.read_past(30);
  a->kill();
  w.read_to_end(2s);
  auto seen = w.events();
  REQUIRE(seen.size() >= 30);
  CHECK(seen.back().event != "done");
  // Every copy b holds is taken over: the two, and the others (ended, they linger).
  auto copies = static_cast<std::int64_t>(ids.size() + others.size());
  REQUIRE(eventually([&] { return b->metric("askd_takeovers_total") == copies; }, 10s));
  REQUIRE(eventually([&] { return c->state_of("a") != "up"; }, 10s));
  // c does not serve either (no copy, or only b's onward one): it says so, and the next
  // candidate, b, is asked.
  CHECK(http_call(c->port(), "DELETE", "/v1/streams/" + ids[1]).status == 204);
  auto cancelled =
      parse_sse(http_call(b->port(), "GET", "/v1/streams/" + ids[1], {}, {}, 30s).body);
  REQUIRE(!cancelled.empty());
  CHECK(cancelled.back().data.find("cancelled") != std::string::npos);
  through.read_to_end(30s);
  auto unbroken = through.events();
  REQUIRE(!unbroken.empty());
  CHECK(unbroken.back().event == "done");
  for (std::size_t i = 0; i < unbroken.size(); ++i) CHECK(unbroken[i].id == std::to_string(i + 1));
  auto after = resumed_to_end(*c, ids[0], seen);
  CHECK(after.back().data.find("\"failover\"") != std::string::npos);
  CHECK(joined_text(seen, after) == sse_text(unbroken));
  CHECK(c->metric("askd_replicas_held") == (onward ? 2 : 0));
}

TEST_CASE("an owner cut off from the cluster goes silent and never shows another continuation") {
  three_nodes cluster;
  const std::string mock = R"({"deltas":150,"gap_ms":20})";
  auto id = start_stream(*cluster.a, "a partition", mock);
  auto* replica = replica_among({cluster.b.get(), cluster.c.get()});
  REQUIRE(replica);
  auto* other = replica == cluster.b.get() ? cluster.c.get() : cluster.b.get();
  watcher w(*cluster.a, id);
  w.read_past(20);
  // Stopped, the owner is cut off as by a partition: its sockets stay open, nothing answers.
  cluster.a->signal(SIGSTOP);
  for (auto* n : {cluster.b.get(), cluster.c.get()})
    REQUIRE(eventually([&] { return n->state_of("a") == "down"; },
                       std::chrono::milliseconds(heartbeat_ms + timeout_ms + 2000)));
  REQUIRE(eventually([&] { return replica->metric("askd_takeovers_total") == 1; }));
  // A client resumes through another node while the owner is away: the whole rest.
  auto first = w.events();
  REQUIRE(!first.empty());
  auto after = resumed_to_end(*other, id, first);
  auto whole = parse_sse(http_call(replica->port(), "GET", "/v1/streams/" + id).body);
  CHECK(joined_text(first, after) == sse_text(whole));
  // The owner comes back: what its client reads there is a part of the same answer (it
  // released nothing its replica lacked), and the connection ends without an end of
  // its own (the stream was fenced: the client resumes elsewhere).
  cluster.a->signal(SIGCONT);
  w.read_to_end(10s);
  auto on_a = w.events();
  REQUIRE(!on_a.empty());
  CHECK(on_a.back().event != "done");
  CHECK(events_text(on_a) ==
        events_text({whole.begin(), whole.begin() + static_cast<long>(on_a.size())}));
  REQUIRE(eventually([&] { return cluster.a->metric("askd_streams_fenced_total") == 1; }, 10s));
  // It rejoins; the stream is read through it from the node that has it.
  REQUIRE(eventually([&] { return cluster.all_up(); }, 10s));
  auto via_a = http_call(cluster.a->port(), "GET", "/v1/streams/" + id);
  REQUIRE(via_a.status == 200);
  CHECK(sse_text(parse_sse(via_a.body)) == sse_text(whole));
}

TEST_CASE(
    "with streams.replicate off a stream is not copied and a resume after its node's loss is 404") {
#ifdef ASKD_SANITIZED
  // Under ASan: CI's budget. The takeover, re-routing, fencing and rejoin paths run
  // sanitized in the kill and partition tests; the main build runs this one.
  WARN("this failover test runs in the main build only");
  return;
#endif
  three_nodes cluster(R"("streams":{"replicate":false})");
  auto id = start_stream(*cluster.a, "no copy", R"({"deltas":60,"gap_ms":20})");
  watcher w(*cluster.a, id);
  w.read_past(10);
  for (auto* n : {cluster.b.get(), cluster.c.get()}) CHECK(n->metric("askd_replicas_held") == 0);
  CHECK(cluster.a->metric("askd_replica_events_total") == 0);
  cluster.a->kill();
  REQUIRE(eventually([&] { return cluster.b->state_of("a") == "down"; }));
  CHECK(http_call(cluster.b->port(), "GET", "/v1/streams/" + id).status == 404);
}

TEST_CASE("a deep research whose node is lost goes on from its round in flight on the replica") {
#ifdef ASKD_SANITIZED
  // Under ASan: CI's budget. The takeover, re-routing, fencing and rejoin paths run
  // sanitized in the kill and partition tests; the main build runs this one.
  WARN("this failover test runs in the main build only");
  return;
#endif
  three_nodes cluster;
  auto body = [](const std::string& path) {
    auto question = std::string("How are callers throttled? #mock") +
                    R"({"research":["retry backoff delay jitter","websocket session frames",)"
                    R"("token bucket refill"],"chunk":8,"gap_ms":8})";
    return "{\"repo_url\":" + askd::core::json::quote(ASKD_FIXTURES "/minirepo") +
           ",\"type\":\"local\",\"provider\":\"openai\",\"deep_research\":true,"
           "\"messages\":[{\"role\":\"user\",\"content\":" +
           askd::core::json::quote(question) + "}]}" + (path.empty() ? "" : "");
  };
  auto started = http_call(cluster.a->port(), "POST", "/v1/streams", body(""), json_headers);
  REQUIRE(started.status == 201);
  auto id = stream_id_of(started);
  auto* replica = replica_among({cluster.b.get(), cluster.c.get()});
  REQUIRE(replica);
  watcher w(*cluster.a, id);
  // Killed in the middle of round 3's answer: a few deltas after its stage.
  w.read_until("\"round\":3,");
  REQUIRE(!w.events().empty());
  w.read_past(std::stoull(w.events().back().id) + 8);
  cluster.a->kill();
  w.read_to_end(2s);
  auto seen = w.events();
  auto after = resumed_to_end(*replica, id, seen);
  CHECK(after.back().data.find("\"failover\"") != std::string::npos);
  std::vector<std::string> stages;
  for (const auto* part : {&seen, &after})
    for (const auto& e : *part)
      if (e.event == "stage") stages.push_back(e.data);
  // Rounds 1 to 3 were begun on the lost node, 4 and 5 on the replica; none twice.
  REQUIRE(stages.size() == 5);
  CHECK(stages[2].find("\"round\":3") != std::string::npos);
  CHECK(stages[4].find("\"round\":5") != std::string::npos);
  auto reference =
      http_call(replica->port(), "POST", "/v1/chat/stream", body(""), json_headers, 30s);
  REQUIRE(reference.status == 200);
  CHECK(joined_text(seen, after) == sse_text(parse_sse(reference.body)));
}
