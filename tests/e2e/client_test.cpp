// The client library (net/client.hpp) end to end: against askd and askmock in-process, and
// against scripted servers for the failures a real server rarely shows on demand.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include "core/json.hpp"
#include "net/client.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/fake_servers.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;
using namespace std::chrono_literals;
namespace client = askd::client;

namespace {

struct collected : client::observer {
  std::string text;
  std::vector<std::string> events;
  std::vector<std::chrono::milliseconds> delays;
  client::result r;
  bool done = false;
  std::function<void()> on_chunk;  // called after each piece of text
  void on_text(std::string_view t) override {
    text += t;
    if (on_chunk) on_chunk();
  }
  void on_event(std::string_view type, std::string_view) override { events.emplace_back(type); }
  void on_retry(const client::result&, std::chrono::milliseconds d) override {
    delays.push_back(d);
  }
  void on_finish(const client::result& res) override {
    r = res;
    done = true;
  }
};

client::options quick(client::face f, client::transport t) {
  client::options o;
  o.kind = f;
  o.via = t;
  o.backoff = {5ms, 5ms, 5ms};
  o.idle_timeout = 20s;
  return o;
}

client::server at(std::uint16_t port) {
  client::server s;
  s.port = port;
  return s;
}

// Runs one call to its end; `with_call` may keep the call (to cancel it).
std::shared_ptr<collected> ask(
    const client::server& s, const std::string& body, const client::options& o,
    std::function<void(std::shared_ptr<client::call>, collected&)> with_call = {}) {
  boost::asio::io_context io;
  auto obs = std::make_shared<collected>();
  auto c = client::start(io, s, body, o, obs);
  if (with_call) with_call(c, *obs);
  io.run_for(30s);
  REQUIRE(obs->done);
  return obs;
}

std::string expected(const std::string& directive) {
  return *askmock::scripted_answer(chat_body("q", directive));
}


}  // namespace

TEST_CASE("the client streams a compat answer over a WebSocket first") {
  e2e_env env;
  auto d = R"({"deltas":12})";
  auto got = ask(at(env.port), chat_body("q", d),
                 quick(client::face::compat, client::transport::automatic));
  CHECK(got->r.what == client::outcome::ok);
  CHECK(got->r.used == client::transport::websocket);
  CHECK_FALSE(got->r.fell_back);
  CHECK(got->r.attempts == 1);
  CHECK(got->text == expected(d));
}

TEST_CASE("the client falls back to HTTP when the WebSocket upgrade is refused") {
  e2e_env env;
  auto s = at(env.port);
  s.ws_path = "/no-socket-here";
  auto d = R"({"deltas":9})";
  for (auto f : {client::face::compat, client::face::v1}) {
    auto got = ask(s, chat_body("q", d), quick(f, client::transport::automatic));
    CHECK(got->r.what == client::outcome::ok);
    CHECK(got->r.fell_back);
    CHECK(got->r.used == client::transport::http);
    CHECK(got->text == expected(d));
  }
}

TEST_CASE("the client falls back to HTTP when the WebSocket does not open in time") {
  scripted_server fake({"", chunked_reply(200, {"hello ", "world"})});
  auto o = quick(client::face::compat, client::transport::automatic);
  o.ws_open_timeout = 100ms;
  auto got = ask(at(fake.port()), "{}", o);
  CHECK(got->r.what == client::outcome::ok);
  CHECK(got->r.fell_back);
  CHECK(got->text == "hello world");
  CHECK(fake.heads()[0].find("Upgrade: websocket") != std::string::npos);
  CHECK(fake.heads()[1].find("POST /chat/completions/stream") == 0);
}

TEST_CASE("the client retries network failures with its backoff and then gives up") {
  auto got = ask(at(free_port()), "{}", quick(client::face::compat, client::transport::http));
  CHECK(got->r.what == client::outcome::network);
  CHECK(got->r.attempts == 4);
  CHECK(got->delays == std::vector<std::chrono::milliseconds>{5ms, 5ms, 5ms});
  CHECK(got->r.message.find("cannot connect") != std::string::npos);
}

TEST_CASE("the client retries a refusal after its Retry-After") {
  scripted_server fake(
      {"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: "
       "application/json\r\nContent-Length: 18\r\n\r\n{\"detail\":\"busy\"}",
       chunked_reply(200, {"answer"})});
  auto got = ask(at(fake.port()), "{}", quick(client::face::compat, client::transport::http));
  CHECK(got->r.what == client::outcome::ok);
  CHECK(got->r.attempts == 2);
  CHECK(got->delays.size() == 1);
  CHECK(got->text == "answer");
}

TEST_CASE("the client never retries a bad request or a failed authentication") {
  e2e_env env([](askd::core::config& c) { c.auth.api_keys = {"k1"}; });
  auto s = at(env.port);
  auto got = ask(s, chat_body("q"), quick(client::face::compat, client::transport::http));
  CHECK(got->r.what == client::outcome::unauthorized);
  CHECK(got->r.attempts == 1);
  CHECK(got->r.status == 401);
  CHECK(got->delays.empty());

  s.api_key = "k1";
  for (auto t : {client::transport::http, client::transport::automatic}) {
    got = ask(s, R"({"repo_url":"https://github.com/a/b","messages":[]})",
              quick(client::face::v1, t));
    CHECK(got->r.what == client::outcome::bad_request);
    CHECK(got->r.message.find("No messages provided") != std::string::npos);
    CHECK(got->delays.empty());
    CHECK_FALSE(got->r.fell_back);  // a v1 socket's error frame is the server's answer
    CHECK(got->r.attempts == 1);
  }
}

TEST_CASE("the client never asks again for a compat answer once text has arrived") {
  scripted_server fake({chunked_reply(200, {"partial "}, false), chunked_reply(200, {"again"})});
  auto got = ask(at(fake.port()), "{}", quick(client::face::compat, client::transport::http));
  CHECK(got->r.what == client::outcome::network);
  CHECK(got->text == "partial ");
  CHECK(got->r.attempts == 1);
  CHECK(fake.connections() == 1);
}

TEST_CASE("a v1 refusal after meta is retried as a new request - not a resume") {
  auto sse = [](const std::string& events) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
           std::to_string(events.size()) + "\r\n\r\n" + events;
  };
  scripted_server fake(
      {sse("id: 1\nevent: meta\ndata: {\"stream_id\":\"s1\"}\n\n"
           "id: 2\nevent: error\ndata: {\"code\":\"overloaded\",\"message\":\"busy\"}\n\n"),
       sse("id: 1\nevent: meta\ndata: {\"stream_id\":\"s2\"}\n\n"
           "id: 2\nevent: delta\ndata: {\"text\":\"fine\"}\n\n"
           "id: 3\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n")});
  auto got = ask(at(fake.port()), "{}", quick(client::face::v1, client::transport::http));
  CHECK(got->r.what == client::outcome::ok);
  CHECK(got->text == "fine");
  CHECK(got->r.stream_id == "s2");
  REQUIRE(fake.heads().size() == 2);
  CHECK(fake.heads()[1].find("POST /v1/chat/stream") == 0);
}

TEST_CASE("the client reports a compat in-band error apart from the text") {
  scripted_server fake({chunked_reply(200, {"some text", "\nError: upstream exploded"})});
  auto got = ask(at(fake.port()), "{}", quick(client::face::compat, client::transport::http));
  CHECK(got->r.what == client::outcome::server_error);
  CHECK(got->r.message == "upstream exploded");
  CHECK(got->text == "some text");
}

TEST_CASE("a v1 stream cut mid-answer resumes from its last event with nothing lost or repeated") {
  e2e_env env;
  auto d = R"({"deltas":40,"gap_ms":2})";
  for (auto t : {client::transport::http, client::transport::websocket}) {
    // Past meta and a few deltas whatever the framing (SSE or socket frames).
    cutting_proxy proxy(env.port, 1, 1200);
    // A question per transport: the second would otherwise come from the answer cache.
    auto got = ask(at(proxy.port()), chat_body("q " + std::string(client::name(t)), d),
                   quick(client::face::v1, t));
    INFO("transport " << client::name(t));
    CHECK(proxy.cut() == 1);
    CHECK(got->r.what == client::outcome::ok);
    CHECK(got->r.resumes == 1);
    CHECK(got->r.attempts == 2);
    CHECK(got->r.finish_reason == "stop");
    CHECK(got->text == expected(d));
  }
  CHECK(env.mock->stats().requests == 2);  // each answer generated once
}

TEST_CASE("cancelling a v1 call cancels its stream on the server") {
  e2e_env env;
  auto got = ask(at(env.port), chat_body("q", R"({"deltas":200,"gap_ms":20})"),
                 quick(client::face::v1, client::transport::http),
                 [](std::shared_ptr<client::call> c, collected& obs) {
                   obs.on_chunk = [c, n = 0]() mutable {
                     if (++n == 3) c->cancel();
                   };
                 });
  CHECK(got->r.what == client::outcome::cancelled);
  CHECK_FALSE(got->r.stream_id.empty());
  CHECK(eventually([&] { return env.mock->stats().disconnects == 1; }));
  CHECK(env.settles());
}

TEST_CASE("the client reads an OpenAI-compatible stream straight from askmock") {
  e2e_env env;
  auto s = at(env.mock_port);
  s.api_key = "sk-test";
  auto d = R"({"deltas":10})";
  auto body = R"({"model":"m","stream":true,"messages":[{"role":"user","content":)" +
              askd::core::json::quote("q #mock" + std::string(d)) + "}]}";
  auto got = ask(s, body, quick(client::face::openai, client::transport::automatic));
  INFO(got->r.message);
  CHECK(got->r.what == client::outcome::ok);
  CHECK(got->r.used == client::transport::http);
  CHECK(got->text == expected(d));
}

TEST_CASE("parse_server reads the forms people type and refuses the rest") {
  auto s = client::parse_server("http://localhost:9000/api/chat/stream");
  CHECK(s.host == "localhost");
  CHECK(s.port == 9000);
  CHECK(s.http_path == "/api/chat/stream");
  CHECK(client::parse_server("127.0.0.1:8001").port == 8001);
  CHECK(client::parse_server("http://example.com").port == 8001);
  CHECK_THROWS_WITH(client::parse_server("https://x"), Catch::Contains("TLS"));
  CHECK_THROWS_WITH(client::parse_server("http://x:99999"), Catch::Contains("bad port"));
  auto v6 = client::parse_server("http://[::1]:9001");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 9001);
  CHECK(client::is_loopback("127.0.0.2"));
  CHECK(client::is_loopback("localhost"));
  CHECK_FALSE(client::is_loopback("10.0.0.1"));
}
