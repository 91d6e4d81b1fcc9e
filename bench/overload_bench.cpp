// overload_bench — closed-loop load against one askd URL, split by how each request
// ended: refused (429: time from sending to the status line) or answered (time to the
// first body byte, i.e. the first token, and to the end). Each client sends a request
// on a new connection, reads to EOF, waits about --pause-ms after a refusal (+-50%, so
// refused clients do not come back in step), and repeats until --seconds pass. Clients
// start spread over --ramp-ms, so streams of equal length do not run in waves. One
// thread, asio; the bench tool of bench/overload.sh (issue 6 brings the general one,
// askload).
//   overload_bench --port P --clients N --seconds S --body FILE [--pause-ms M] [--ramp-ms R]
#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

struct results {
  std::vector<double> refuse_ms, ttft_ms, total_ms;
  long errors = 0, other_status = 0;
};

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct settings {
  unsigned short port = 8001;
  int clients = 100;
  int seconds = 10;
  int pause_ms = 100;
  int ramp_ms = 1000;
  std::string request;  // the whole HTTP request
};

class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::io_context& io, const settings& s, results& r, clock_type::time_point until)
      : io_(io), s_(s), r_(r), until_(until), sock_(io), timer_(io) {}

  void next() {
    if (clock_type::now() >= until_) return;
    sock_ = tcp::socket(io_);
    got_.clear();
    header_end_ = std::string::npos;
    first_byte_ = false;
    sent_ = clock_type::now();
    auto self = shared_from_this();
    sock_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s_.port),
                        [self](boost::system::error_code ec) {
                          if (ec) return self->fail();
                          asio::async_write(self->sock_, asio::buffer(self->s_.request),
                                            [self](boost::system::error_code ec, std::size_t) {
                                              if (ec) return self->fail();
                                              self->read();
                                            });
                        });
  }

 private:
  void read() {
    auto self = shared_from_this();
    sock_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, std::size_t n) {
      auto now = clock_type::now();
      self->got_.append(self->buf_, n);
      if (self->header_end_ == std::string::npos) {
        self->header_end_ = self->got_.find("\r\n\r\n");
        if (self->header_end_ != std::string::npos) {
          self->status_ = std::atoi(self->got_.c_str() + 9);
          if (self->status_ == 429) self->r_.refuse_ms.push_back(ms_between(self->sent_, now));
        }
      }
      if (self->header_end_ != std::string::npos && self->status_ == 200 && !self->first_byte_ &&
          self->got_.size() > self->header_end_ + 4) {
        self->first_byte_ = true;
        self->r_.ttft_ms.push_back(ms_between(self->sent_, now));
      }
      if (!ec) return self->read();
      if (ec != asio::error::eof) return self->fail();
      if (self->status_ == 200) {
        self->r_.total_ms.push_back(ms_between(self->sent_, now));
      } else if (self->status_ != 429) {
        ++self->r_.other_status;
      }
      self->after(self->status_ == 429 ? self->s_.pause_ms : 0);
    });
  }
  void fail() {
    ++r_.errors;
    after(s_.pause_ms);
  }

 public:
  void after(int ms) {
    boost::system::error_code ignored;
    sock_.close(ignored);
    if (ms == 0) return next();
    if (ms == s_.pause_ms) ms = std::uniform_int_distribution<int>(ms / 2, ms * 3 / 2)(rng_);
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->next(); });
  }

  static inline std::mt19937 rng_{42};
  asio::io_context& io_;
  const settings& s_;
  results& r_;
  clock_type::time_point until_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  char buf_[16384];
  std::string got_;
  std::size_t header_end_ = std::string::npos;
  int status_ = 0;
  bool first_byte_ = false;
  clock_type::time_point sent_;
};

std::string pct(std::vector<double>& v, double p) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  auto i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  char out[32];
  std::snprintf(out, sizeof out, "%.2f", v[i]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  std::string body_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      s.port = static_cast<unsigned short>(std::stoi(v));
    else if (k == "--clients")
      s.clients = std::stoi(v);
    else if (k == "--seconds")
      s.seconds = std::stoi(v);
    else if (k == "--pause-ms")
      s.pause_ms = std::stoi(v);
    else if (k == "--ramp-ms")
      s.ramp_ms = std::stoi(v);
    else if (k == "--body")
      body_file = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  std::ifstream in(body_file);
  if (!in) {
    std::cerr
        << "usage: overload_bench --port P --clients N --seconds S --body FILE [--pause-ms M]\n";
    return 2;
  }
  std::stringstream body;
  body << in.rdbuf();
  s.request =
      "POST /chat/completions/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.str().size()) + "\r\n\r\n" + body.str();
  asio::io_context io;
  results r;
  auto until =
      clock_type::now() + std::chrono::milliseconds(s.ramp_ms) + std::chrono::seconds(s.seconds);
  std::vector<std::shared_ptr<client>> clients;
  for (int i = 0; i < s.clients; ++i) {
    clients.push_back(std::make_shared<client>(io, s, r, until));
    clients.back()->after(1 + s.ramp_ms * i / std::max(1, s.clients));
  }
  io.run();
  // One line, the fields bench/overload.sh puts in its table.
  std::cout << "clients=" << s.clients << " answered=" << r.total_ms.size()
            << " refused=" << r.refuse_ms.size() << " errors=" << r.errors
            << " other_status=" << r.other_status << " refuse_p50=" << pct(r.refuse_ms, 0.5)
            << " refuse_p99=" << pct(r.refuse_ms, 0.99) << " ttft_p50=" << pct(r.ttft_ms, 0.5)
            << " ttft_p99=" << pct(r.ttft_ms, 0.99) << " total_p50=" << pct(r.total_ms, 0.5)
            << " total_p99=" << pct(r.total_ms, 0.99) << "\n";
  return 0;
}
