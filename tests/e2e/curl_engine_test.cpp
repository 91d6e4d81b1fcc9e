// The curl engine on its own against loopback servers: what reusing easy handles must
// not break.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "apps/askmock/mock_service.hpp"
#include "net/http_server.hpp"
#include "providers/curl_engine.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/fake_servers.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

using namespace askd;
using namespace std::chrono_literals;

namespace {

// One transfer's events, handed over when it completes.
struct outcome {
  long status = 0;
  std::string body;
  providers::transfer_result result;
};

class collector : public providers::transfer_listener {
 public:
  std::future<outcome> done() { return promise_.get_future(); }
  void on_headers(long status, std::string) override { got_.status = status; }
  void on_body(std::string_view bytes) override { got_.body += bytes; }
  void on_complete(providers::transfer_result r) override {
    got_.result = std::move(r);
    promise_.set_value(std::move(got_));
  }

 private:
  outcome got_;
  std::promise<outcome> promise_;
};

outcome call(providers::curl_engine& engine, const std::string& url) {
  auto listener = std::make_shared<collector>();
  auto done = listener->done();
  providers::upstream_request r;
  r.url = url;
  r.body = R"({"q":"a question"})";
  r.headers = std::make_shared<const providers::header_list>(
      std::vector<std::string>{"Content-Type: application/json"});
  engine.start(std::move(r), listener);
  REQUIRE(done.wait_for(10s) == std::future_status::ready);
  return done.get();
}

}  // namespace

TEST_CASE("curl engine: a handle reused after a failed call reads a large answer whole") {
  const std::string answer(40000, 'x');
  test::scripted_server server(
      {"HTTP/1.1 200 OK\r\nContent-Length: 40000\r\nConnection: close\r\n\r\n" + answer});
  providers::curl_engine engine(1);
  // Calls that fail before libcurl's done step, each leaving its handle to the shard's
  // idle ones: an unsupported scheme, a malformed URL. The next calls get those handles.
  for (const char* url : {"ftp://127.0.0.1:1/", "http://[::1", "gopher://127.0.0.1/"}) {
    auto failed = call(engine, url);
    CHECK(failed.result.failure);
  }
  for (int i = 0; i < 4; ++i) {
    auto ok = call(engine, "http://127.0.0.1:" + std::to_string(server.port()) + "/");
    CHECK_FALSE(ok.result.failure);
    CHECK(ok.status == 200);
    CHECK(ok.body == answer);
  }
  CHECK(server.connections() == 4);
  CHECK(engine.active() == 0);
}

namespace {

// CPU ticks (user + system) this process's askd.curl threads have used so far.
long curl_thread_ticks() {
  long ticks = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "askd.curl") continue;
    std::ifstream stat(task.path() / "stat");
    std::string all((std::istreambuf_iterator<char>(stat)), {});
    // Fields after the command's closing parenthesis: state is the 3rd, utime the 14th.
    std::istringstream rest(all.substr(all.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
      if (i == 14) utime = std::stol(field);
      if (i == 15) {
        stime = std::stol(field);
        break;
      }
    }
    ticks += utime + stime;
  }
  return ticks;
}

}  // namespace

TEST_CASE("curl engine: a kept-alive connection the server closes while idle is let go") {
  // Every reply keeps the connection alive, as far as libcurl knows, and the server then
  // closes it: libcurl keeps it in its cache, and the shard in its epoll set (parked).
  test::scripted_server server({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"});
  providers::curl_engine engine(1);
  auto url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  auto first = call(engine, url);
  REQUIRE(first.body == "ok");
  // The close makes the parked socket readable for good. Left in the (level-triggered)
  // set, it would wake the shard's thread without end: over 300 ms that is every tick.
  auto before = curl_thread_ticks();
  std::this_thread::sleep_for(300ms);
  CHECK(curl_thread_ticks() - before < 10);
  // The next call finds the cached connection dead and opens another.
  auto second = call(engine, url);
  CHECK_FALSE(second.result.failure);
  CHECK(second.body == "ok");
  CHECK(server.connections() == 2);
  CHECK(engine.active() == 0);
}

namespace {

// askmock in this process, on a free loopback port, keeping connections alive.
struct mock_upstream {
  mock_upstream() {
    mock = std::make_shared<askmock::mock_service>(askmock::mock_options{"sk-test"});
    server = std::make_unique<net::http_server>(mock, net::server_limits{}, 1);
    port = server->listen("127.0.0.1", 0);
    server->run();
  }
  std::shared_ptr<askmock::mock_service> mock;
  std::unique_ptr<net::http_server> server;
  std::uint16_t port = 0;
};

// `n` OpenAI streams started at once, the i-th answering after 500 + 100 i ms: all n are
// connected before the first answers (n connections), and they end one at a time, 100 ms
// apart, so each gives its connection back while the ones after it still count as in
// flight (what libcurl's own cap depends on). True when every one streamed its answer.
bool burst(providers::curl_engine& engine, std::uint16_t port, int n) {
  std::vector<std::shared_ptr<collector>> listeners;
  std::vector<std::future<outcome>> done;
  for (int i = 0; i < n; ++i) {
    listeners.push_back(std::make_shared<collector>());
    done.push_back(listeners.back()->done());
    providers::upstream_request r;
    r.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions";
    r.body = R"({"model":"m","stream":true,"messages":[{"role":"user",)"
             R"("content":"hi #mock{\"deltas\":1,\"first_ms\":)" +
             std::to_string(500 + 100 * i) + "}\"}]}";
    r.headers = std::make_shared<const providers::header_list>(std::vector<std::string>{
        "Content-Type: application/json", "Authorization: Bearer sk-test"});
    engine.start(std::move(r), listeners.back());
  }
  bool all = true;
  for (auto& d : done) {
    if (d.wait_for(10s) != std::future_status::ready) return false;
    auto o = d.get();
    all = all && !o.result.failure && o.status == 200 && o.body.find("[DONE]") != std::string::npos;
  }
  return all;
}

// Two bursts of 16 on an engine with `idle_connections`: the sockets it had opened after
// the first and after the second.
std::pair<std::uint64_t, std::uint64_t> two_bursts(std::size_t idle_connections) {
  mock_upstream upstream;
  providers::curl_engine engine(1, idle_connections);
  REQUIRE(burst(engine, upstream.port, 16));
  auto first = engine.sockets_opened();
  REQUIRE(burst(engine, upstream.port, 16));
  CHECK(engine.active() == 0);
  return {first, engine.sockets_opened()};
}

}  // namespace

TEST_CASE("curl engine: a burst's connections are all kept for the next burst") {
  // libcurl's own rule keeps at most four connections per call in flight: of 16, the
  // last three calls to end would each close one, and the next 16 would open three again.
  auto [first, second] = two_bursts(64);
  CHECK(first == 16);
  CHECK(second == 16);
}

TEST_CASE("curl engine: with idle_connections 0 libcurl's own rule closes a burst's last ones") {
  // The same bursts without the floor: what the floor is for (and that the count counts).
  auto [first, second] = two_bursts(0);
  CHECK(first == 16);
  CHECK(second > 16);
}

namespace {

bool have_openssl() {
  return test::run_command("command -v openssl").code == 0;
}

// A CA of the test's own in `dir`: ca.pem (its certificate) and ca.key.
void make_ca(const std::string& dir) {
  REQUIRE(
      test::run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=askd-test-ca"
                        " -keyout " +
                        dir + "/ca.key -out " + dir + "/ca.pem >/dev/null 2>&1")
          .code == 0);
}

// A CA of the test's own and a certificate for 127.0.0.1 that it signed, in `dir`:
// ca.pem, cert.pem and key.pem. Needs openssl.
struct test_pki {
  test::temp_dir dir;
  std::string at(const std::string& name) const { return dir.path + "/" + name; }
  test_pki() {
    auto quiet = " >/dev/null 2>&1";
    make_ca(dir.path);
    std::ofstream(at("ext.cnf")) << "subjectAltName=IP:127.0.0.1\n";
    REQUIRE(test::run_command("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " +
                              at("key.pem") + " -out " + at("req.pem") + quiet)
                .code == 0);
    REQUIRE(test::run_command("openssl x509 -req -days 1 -in " + at("req.pem") + " -CA " +
                              at("ca.pem") + " -CAkey " + at("ca.key") +
                              " -CAcreateserial -extfile " + at("ext.cnf") + " -out " +
                              at("cert.pem") + quiet)
                .code == 0);
  }
};

// A server process of the test's, stopped (SIGTERM, then reaped) when this goes. As a
// member it is stopped even when its owner's constructor fails after starting it.
struct spawned {
  pid_t pid = -1;
  void start(std::vector<std::string> args, int port) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    bool exited = false;
    REQUIRE(test::eventually([&] {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {  // failed to start: no need to wait on
        exited = true;
        pid = -1;
        return true;
      }
      try {
        test::raw_connection probe(port);
        return true;
      } catch (const std::exception&) {
        return false;  // not listening yet
      }
    }));
    REQUIRE_FALSE(exited);
  }
  spawned() = default;
  spawned(const spawned&) = delete;
  spawned& operator=(const spawned&) = delete;
  ~spawned() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
};

// `openssl s_server -www` on loopback with test_pki's certificate: it answers a GET with a
// status page.
struct tls_upstream {
  test_pki pki;
  int port = test::free_port();
  spawned server;
  tls_upstream() {
    server.start(
        {"openssl", "s_server", "-quiet", "-www", "-accept", "127.0.0.1:" + std::to_string(port),
         "-cert", pki.at("cert.pem"), "-key", pki.at("key.pem")},
        port);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port) + "/"; }
  std::string cafile() const { return pki.at("ca.pem"); }
};

outcome get(providers::curl_engine& engine, const std::string& url) {
  auto listener = std::make_shared<collector>();
  auto done = listener->done();
  providers::upstream_request r;
  r.url = url;
  r.method = "GET";
  engine.start(std::move(r), listener);
  REQUIRE(done.wait_for(10s) == std::future_status::ready);
  return done.get();
}

void check_not_trusted(const outcome& out) {
  REQUIRE(out.result.failure);
  CHECK_FALSE(out.result.failure->retryable);
  CHECK(out.result.failure->message.find("certificate is not trusted") != std::string::npos);
}

}  // namespace

TEST_CASE(
    "curl engine: an upstream whose certificate is not trusted is an error not worth retrying") {
  // TLS works, but no CA the system trusts signed the certificate.
  if (!have_openssl()) {
    WARN("openssl is not installed: skipped");
    return;
  }
  tls_upstream upstream;
  providers::curl_engine engine(1, 64);
  check_not_trusted(get(engine, upstream.url()));
  CHECK(engine.active() == 0);
}

TEST_CASE("curl engine: upstream.cafile trusts a private CA's upstream - and only its own") {
  if (!have_openssl()) {
    WARN("openssl is not installed: skipped");
    return;
  }
  tls_upstream upstream;
  providers::curl_engine engine(1, 64, upstream.cafile());
  for (int i = 0; i < 2; ++i) {  // the second on a new handle's settings, as the first
    auto out = get(engine, upstream.url());
    REQUIRE_FALSE(out.result.failure);
    CHECK(out.status == 200);
    CHECK(out.body.find("s_server") != std::string::npos);  // its status page
  }
  // Another CA's file in its place: the same upstream is refused.
  test::temp_dir other;
  make_ca(other.path);
  providers::curl_engine elsewhere(1, 64, other.path + "/ca.pem");
  check_not_trusted(get(elsewhere, upstream.url()));
  CHECK(engine.active() == 0);
  CHECK(elsewhere.active() == 0);
}

namespace {

// Where the next e2e_env's OpenAI provider is (its tweak takes no captures).
std::string tls_base_url, tls_cafile;

void openai_at_tls(core::config& c) {
  for (auto& p : c.generator.providers)
    if (p.id == "openai") p.base_url = tls_base_url;
}

}  // namespace

TEST_CASE("askd answers through a provider behind a private CA's TLS - with upstream.cafile") {
  if (!have_openssl() || test::nginx_binary().empty()) {
    WARN("openssl or nginx is not installed (./dev test installs both): skipped");
    return;
  }
  test_pki pki;
  auto tls_port = test::free_port();
  tls_base_url = "https://127.0.0.1:" + std::to_string(tls_port) + "/v1";
  tls_cafile = pki.at("ca.pem");
  auto ask = [](const test::e2e_env& env) {
    return test::http_call(env.port, "POST", "/chat/completions/stream",
                           test::chat_body("What is this repo?", R"({"text":"over TLS"})"));
  };
  // An operator's TLS in front of the provider (askmock): nginx, as in a private network.
  auto start_nginx = [&](const test::e2e_env& env, spawned& nginx) {
    // Its temporary files under its own prefix, and as root no switch to nobody (which
    // would take over the system's /var/lib/nginx): as the cluster tests' balancer.
    std::filesystem::create_directories(pki.at("tmp"));
    std::ofstream(pki.at("nginx.conf"))
        << (::geteuid() == 0 ? "user root;\n" : "") << "worker_processes 1;\npid "
        << pki.at("nginx.pid") << ";\nerror_log " << pki.at("nginx.log")
        << ";\nevents { worker_connections 64; }\n"
        << "http {\n  access_log off;\n  client_body_temp_path " << pki.at("tmp/body")
        << ";\n  proxy_temp_path " << pki.at("tmp/proxy")
        << ";\n  server {\n    listen 127.0.0.1:" << tls_port << " ssl;\n"
        << "    ssl_certificate " << pki.at("cert.pem") << ";\n    ssl_certificate_key "
        << pki.at("key.pem")
        << ";\n    location / {\n      proxy_pass http://127.0.0.1:" << env.mock_port
        << ";\n      proxy_http_version 1.1;\n      proxy_buffering off;\n"
        << "    }\n  }\n}\n";
    nginx.start(
        {test::nginx_binary(), "-p", pki.dir.path, "-c", pki.at("nginx.conf"), "-g", "daemon off;"},
        tls_port);
  };
  {
    test::e2e_env env([](core::config& c) {
      c.upstream.cafile = tls_cafile;
      openai_at_tls(c);
    });
    spawned nginx;
    start_nginx(env, nginx);
    auto r = ask(env);
    CHECK(r.status == 200);
    CHECK(r.body == "over TLS");
    CHECK(env.settles());
  }
  {  // the same without upstream.cafile: the system's CAs did not sign it
    test::e2e_env env(&openai_at_tls);
    spawned nginx;
    start_nginx(env, nginx);
    auto r = ask(env);
    CHECK(r.body.find("certificate is not trusted") != std::string::npos);
    CHECK(env.settles());
  }
}
