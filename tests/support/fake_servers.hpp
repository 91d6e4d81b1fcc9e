// tests/support/fake_servers.hpp — two misbehaving servers on loopback for the client
// tests: one answers each connection from a script (or holds it silent), one relays to
// a real server and cuts the first connections partway. Each runs on its own thread and
// stops in its destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace askd::test {

// Reads each connection's request head, then writes `script[i]` (the i-th connection's
// raw reply bytes) and closes; an empty string holds the connection open, silent, until
// the server stops. Connections past the script get the last entry.
class scripted_server {
 public:
  explicit scripted_server(std::vector<std::string> script);
  ~scripted_server();
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  // The request heads received, in order.
  std::vector<std::string> heads() const;

 private:
  void serve();
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<std::string> script_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::vector<int> held_;
  std::thread thread_;
};

// Relays connections to 127.0.0.1:`to`; the first `cuts` connections are cut once the
// server has sent `after_bytes` bytes to the client.
class cutting_proxy {
 public:
  cutting_proxy(std::uint16_t to, int cuts, std::size_t after_bytes);
  ~cutting_proxy();
  std::uint16_t port() const { return port_; }
  int cut() const { return cut_; }

 private:
  void serve();
  void relay(int client, bool cut);
  int listen_fd_ = -1;
  std::uint16_t port_ = 0, to_;
  int cuts_;
  std::size_t after_;
  std::atomic<int> cut_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> relays_;
  std::thread thread_;
};

// A raw HTTP reply: `status` with a chunked body of `chunks` (each its own chunk); with
// `end` false the reply stops after the chunks, without the last chunk.
std::string chunked_reply(int status, const std::vector<std::string>& chunks, bool end = true,
                          const std::string& extra_headers = {});

}  // namespace askd::test
