// The HTTP server under askd and askmock, driven by a service of the test's own: what a
// producer may rely on when it calls a response.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "net/http_server.hpp"
#include "tests/support/test_client.hpp"

using namespace askd;
using namespace askd::test;

namespace {

// Starts a chunked response, then (on the connection's strand, once the client has reset)
// writes to it while a producer's flag is up — as a stream hub catching a watcher up
// writes inside its lock. The disconnect callback records whether it ran inside that write.
struct reentry_service : net::service {
  std::mutex m;
  std::condition_variable cv;
  bool client_reset = false;
  std::atomic<bool> writing{false};
  std::atomic<int> disconnects{0};
  std::atomic<int> reentered{0};

  void handle(net::request, std::shared_ptr<net::response> res) override {
    res->start(200, {{"Content-Type", "text/plain"}});
    res->write("first");
    res->on_disconnect([this] {
      if (writing) ++reentered;
      ++disconnects;
    });
    res->after(std::chrono::microseconds(0), [this, res] {
      std::unique_lock lock(m);
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return client_reset; });
      writing = true;
      // The first finds the reset connection from the caller's thread; the second goes
      // through the strand's queue, which sends at once and finds it too.
      res->write(std::string(256 * 1024, 'x'));
      res->write(std::string(256 * 1024, 'y'));
      writing = false;
    });
  }
  net::upgrade_decision upgrade(const net::request&) override { return {}; }
};

}  // namespace

TEST_CASE("a write that finds its client gone tells the service later - not inside the write") {
  auto svc = std::make_shared<reentry_service>();
  net::http_server server(svc, net::server_limits{}, 1);
  auto port = server.listen("127.0.0.1", 0);
  server.run();
  raw_connection c(port);
  c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  REQUIRE(c.read_until("first", std::chrono::seconds(10)).find("first") != std::string::npos);
  c.reset();
  {
    std::lock_guard lock(svc->m);
    svc->client_reset = true;
  }
  svc->cv.notify_all();
  REQUIRE(eventually([&] { return svc->disconnects == 1; }));
  CHECK(svc->reentered == 0);
}
