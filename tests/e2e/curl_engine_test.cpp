// The curl engine on its own against loopback servers: what reusing easy handles must
// not break.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "providers/curl_engine.hpp"
#include "tests/support/fake_servers.hpp"

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
