// cluster_bench — bench/cluster.sh's client: starts --streams background v1 streams on
// one node (POST /v1/streams), watches each from every port of --watch (GET
// /v1/streams/{id}, from the first event), and records when each event arrives on each
// port. With two ports, the second's delay over the first for the same event is what
// watching through that node adds; it prints p50/p99/mean of it (µs) and the events per
// port. One thread, asio; the streams' first token should come after every watcher has
// attached (askmock's first_ms), so no event is a replay.
//   cluster_bench --start PORT --watch PORT[,PORT] --streams N --body FILE
#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

tcp::endpoint at(unsigned short port) {
  return {asio::ip::make_address("127.0.0.1"), port};
}

// One blocking POST; the response body.
std::string post(asio::io_context& io, unsigned short port, const std::string& target,
                 const std::string& body) {
  tcp::socket s(io);
  s.connect(at(port));
  std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " +
                    "application/json\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  asio::write(s, asio::buffer(req));
  std::string got;
  char buf[4096];
  boost::system::error_code ec;
  for (;;) {
    auto n = s.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
    if (ec) break;
  }
  auto start = got.find("\r\n\r\n");
  return start == std::string::npos ? "" : got.substr(start + 4);
}

// (stream, seq) -> arrival, per watched port.
using arrivals = std::map<std::pair<int, long>, clock_type::time_point>;

class watcher : public std::enable_shared_from_this<watcher> {
 public:
  watcher(asio::io_context& io, unsigned short port, int stream, std::string id, arrivals& out)
      : sock_(io), port_(port), stream_(stream), id_(std::move(id)), out_(out) {}

  void start() {
    auto self = shared_from_this();
    sock_.async_connect(at(port_), [self](boost::system::error_code ec) {
      if (ec) return;
      self->req_ = "GET /v1/streams/" + self->id_ +
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      asio::async_write(self->sock_, asio::buffer(self->req_),
                        [self](boost::system::error_code ec, std::size_t) {
                          if (!ec) self->read();
                        });
    });
  }

 private:
  void read() {
    auto self = shared_from_this();
    sock_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, std::size_t n) {
      auto now = clock_type::now();
      self->got_.append(self->buf_, n);
      // Every complete "id: N" line seen now arrived now.
      std::size_t at;
      while ((at = self->got_.find("\nid: ", self->scanned_)) != std::string::npos) {
        auto end = self->got_.find('\n', at + 5);
        if (end == std::string::npos) break;
        self->out_[{self->stream_, std::stol(self->got_.substr(at + 5, end - at - 5))}] = now;
        self->scanned_ = end;
      }
      if (!ec) self->read();
    });
  }

  tcp::socket sock_;
  unsigned short port_;
  int stream_;
  std::string id_, req_, got_;
  std::size_t scanned_ = 0;
  char buf_[16384];
  arrivals& out_;
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short start = 0;
  std::vector<unsigned short> watch;
  int streams = 10;
  std::string body;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--start") start = static_cast<unsigned short>(std::stoi(v));
    else if (a == "--streams") streams = std::stoi(v);
    else if (a == "--body") {
      std::ifstream in(v);
      body.assign(std::istreambuf_iterator<char>(in), {});
    } else if (a == "--watch") {
      std::stringstream ss(v);
      std::string p;
      while (std::getline(ss, p, ',')) watch.push_back(static_cast<unsigned short>(std::stoi(p)));
    }
  }
  if (!start || watch.empty() || body.empty()) {
    std::fprintf(stderr, "usage: cluster_bench --start PORT --watch PORT[,PORT] --streams N --body FILE\n");
    return 2;
  }
  asio::io_context io{1};
  std::vector<arrivals> got(watch.size());
  std::vector<std::shared_ptr<watcher>> watchers;
  for (int s = 0; s < streams; ++s) {
    auto reply = post(io, start, "/v1/streams", body);
    auto q = reply.find("\"stream_id\":\"");
    if (q == std::string::npos) {
      std::fprintf(stderr, "no stream id in %s\n", reply.c_str());
      return 1;
    }
    auto id = reply.substr(q + 13, reply.find('"', q + 13) - q - 13);
    for (std::size_t w = 0; w < watch.size(); ++w) {
      watchers.push_back(std::make_shared<watcher>(io, watch[w], s, id, got[w]));
      watchers.back()->start();
    }
    io.poll();
  }
  io.run();
  std::printf("events");
  for (std::size_t w = 0; w < watch.size(); ++w) std::printf(" port%u=%zu", watch[w], got[w].size());
  if (watch.size() == 2) {
    std::vector<double> added;
    for (const auto& [key, t] : got[1]) {
      auto it = got[0].find(key);
      if (it != got[0].end())
        added.push_back(std::chrono::duration<double, std::micro>(t - it->second).count());
    }
    double sum = 0;
    for (double d : added) sum += d;
    std::printf(" added_us_p50=%.0f added_us_p99=%.0f added_us_mean=%.0f",
                pct(added, 0.5), pct(added, 0.99), added.empty() ? 0 : sum / added.size());
  }
  std::printf("\n");
  return 0;
}
