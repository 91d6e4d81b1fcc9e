// askload — the load-testing harness: many streamed questions at once against askd or
// any deepwiki-compatible server (or an OpenAI-compatible upstream such as askmock),
// measuring each stream from connect to last byte. Closed loop (N clients, each asking
// again when its answer ends) or open loop (a fixed start rate that a slow server
// cannot slow down). One io thread; see apps/askload/README.md for its own ceiling.
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "apps/askload/stats.hpp"
#include "apps/askmock/mock_service.hpp"
#include "core/json.hpp"
#include "net/client.hpp"

namespace {

namespace asio = boost::asio;
namespace client = askd::client;
namespace json = askd::core::json;
using clock_type = std::chrono::steady_clock;
using askload::stream_record;

// How long a closed-loop client waits after a failed stream before its next one.
constexpr std::chrono::milliseconds failure_pause{100};

constexpr const char* usage =
    "usage: askload [options]\n"
    "  --url URL            server (default http://127.0.0.1:8001); a path overrides the face's\n"
    "  --path P             the HTTP path, when not the face's default (or the URL's)\n"
    "  --target T           compat-http (default), compat-ws, v1-sse, v1-ws, or openai (an\n"
    "                       OpenAI-compatible upstream: askmock, or a byte relay before it)\n"
    "  -c, --concurrency N  closed loop: N clients, each asking again when its answer ends\n"
    "                       (100 ms after a failure; default 10)\n"
    "  --rate R             open loop instead: start R streams per second whatever happens\n"
    "  --ramp S             start the clients (or the rate) evenly over S seconds (default 0)\n"
    "  --duration S         start streams for S seconds (default 10), then let them end\n"
    "  -n, --requests N     or: start exactly N streams, then stop\n"
    "  --drain S            after the last start, wait at most S s for streams (default 30)\n"
    "  --question TEXT      what to ask (default: a question about the repo)\n"
    "  --repo R  --provider P  --model M   request fields (compat/v1)\n"
    "  --mix FILE           JSON lines, each a request object or {\"request\":{...},\n"
    "                       \"expect\":\"text\"}; streams take the lines in turn\n"
    "  --verify             compare each answer with the expected text: the line's \"expect\",\n"
    "                       else askmock's scripted answer for a #mock{} question\n"
    "  --timeout S          a stream with nothing for S seconds fails (default 60)\n"
    "  --drop-after N       v1: each stream drops its connection once, after its Nth piece\n"
    "                       of text, and resumes from its last event (through a balancer\n"
    "                       the resume may land on another node); implies --retry\n"
    "  --retry              let the client retry/resume as `ask` does (default: every\n"
    "                       failure counts once)\n"
    "  --idle N             instead of asking: open N WebSockets (or TCP connections for HTTP\n"
    "                       targets), hold them idle for --duration, close them\n"
    "  --api-key KEY        Bearer token (default $ASKD_API_KEY)\n"
    "  --json               print the summary as JSON on stdout instead of the table\n"
    "  --html FILE          write a self-contained HTML report with SVG charts\n"
    "  --quiet              no progress line\n"
    "  --max-connections N  cap on open streams (default 10000, at most 60000)\n"
    "  --max-duration S     cap on the whole run (default 600, at most 86400)\n"
    "  --allow-remote       allow a target that is not loopback\n"
    "exit codes: 0 every stream ok (and exact, with --verify), 1 some failed, 2 usage\n";

[[noreturn]] void die_usage(const std::string& msg) {
  std::fprintf(stderr, "askload: %s\n%s", msg.c_str(), usage);
  std::exit(2);
}

double number_arg(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(n >= lo && n <= hi))
    die_usage(flag + ": expected a number from " + json::format_number(lo) + " to " +
              json::format_number(hi) + ", got \"" + v + "\"");
  return n;
}

struct request_spec {
  std::string body;
  std::optional<std::string> expect;
};

struct settings {
  client::server server;
  client::options opts;
  std::string target = "compat-http", url = "http://127.0.0.1:8001";
  int concurrency = 10;
  double rate = 0, ramp_s = 0, duration_s = 10, drain_s = 30, max_duration_s = 600;
  long requests = 0;
  int idle = 0;
  int max_connections = 10000;
  int drop_after = 0;  // v1: drop each stream's connection once after this many texts
  bool verify = false, json_out = false, quiet = false, allow_remote = false;
  std::string html, mix, question, repo = "https://github.com/AsyncFuncAI/deepwiki-open", provider,
                                   model;
  std::vector<request_spec> specs;
};

std::vector<request_spec> load_specs(const settings& s) {
  std::vector<request_spec> out;
  if (!s.mix.empty()) {
    std::ifstream in(s.mix);
    if (!in) die_usage("--mix: cannot read " + s.mix);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      rapidjson::Document doc;
      bool parsed = askd::core::json::try_parse(line, doc);
      if (!parsed || !doc.IsObject())
        die_usage("--mix: " + s.mix + ":" + std::to_string(n) + ": not a JSON object");
      request_spec spec;
      auto req = doc.FindMember("request");
      if (req != doc.MemberEnd()) {
        if (!req->value.IsObject())
          die_usage("--mix: " + s.mix + ":" + std::to_string(n) +
                    ": \"request\" must be an object");
        spec.body = json::write(req->value);
        auto ex = doc.FindMember("expect");
        if (ex != doc.MemberEnd() && ex->value.IsString()) spec.expect = ex->value.GetString();
      } else {
        spec.body = line;
      }
      out.push_back(std::move(spec));
    }
    if (out.empty()) die_usage("--mix: " + s.mix + " has no requests");
  } else {
    auto q = s.question.empty() ? std::string("How are streams relayed?") : s.question;
    auto messages = "\"messages\":[{\"role\":\"user\",\"content\":" + json::quote(q) + "}]";
    request_spec spec;
    if (s.opts.kind == client::face::openai) {
      spec.body = "{\"model\":" + json::quote(s.model.empty() ? "mock" : s.model) +
                  ",\"stream\":true," + messages + "}";
    } else {
      spec.body = "{\"repo_url\":" + json::quote(s.repo);
      if (!s.provider.empty()) spec.body += ",\"provider\":" + json::quote(s.provider);
      if (!s.model.empty()) spec.body += ",\"model\":" + json::quote(s.model);
      spec.body += "," + messages + "}";
    }
    out.push_back(std::move(spec));
  }
  if (s.verify)
    for (auto& spec : out)
      if (!spec.expect) spec.expect = askmock::scripted_answer(spec.body);
  return out;
}

settings parse_args(int argc, char** argv) {
  settings s;
  const char* key = std::getenv("ASKD_API_KEY");
  std::string api_key = key ? key : "";
  bool duration_set = false, retry = false;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die_usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--url")
      s.url = value();
    else if (a == "--target")
      s.target = value();
    else if (a == "--path")
      path = value();
    else if (a == "-c" || a == "--concurrency")
      s.concurrency = static_cast<int>(number_arg(a, value(), 1, 60000));
    else if (a == "--rate")
      s.rate = number_arg(a, value(), 0.001, 100000);
    else if (a == "--ramp")
      s.ramp_s = number_arg(a, value(), 0, 3600);
    else if (a == "--duration")
      s.duration_s = number_arg(a, value(), 0.001, 86400), duration_set = true;
    else if (a == "-n" || a == "--requests")
      s.requests = static_cast<long>(number_arg(a, value(), 1, 1e9));
    else if (a == "--drain")
      s.drain_s = number_arg(a, value(), 0, 3600);
    else if (a == "--question")
      s.question = value();
    else if (a == "--repo")
      s.repo = value();
    else if (a == "--provider")
      s.provider = value();
    else if (a == "--model")
      s.model = value();
    else if (a == "--mix")
      s.mix = value();
    else if (a == "--verify")
      s.verify = true;
    else if (a == "--timeout")
      s.opts.idle_timeout =
          std::chrono::milliseconds(static_cast<long>(number_arg(a, value(), 0.001, 86400) * 1000));
    else if (a == "--retry")
      retry = true;
    else if (a == "--drop-after")
      s.drop_after = static_cast<int>(number_arg(a, value(), 1, 1000000)), retry = true;
    else if (a == "--idle")
      s.idle = static_cast<int>(number_arg(a, value(), 1, 60000));
    else if (a == "--api-key")
      api_key = value();
    else if (a == "--json")
      s.json_out = true;
    else if (a == "--html")
      s.html = value();
    else if (a == "--quiet")
      s.quiet = true;
    else if (a == "--max-connections")
      s.max_connections = static_cast<int>(number_arg(a, value(), 1, 60000));
    else if (a == "--max-duration")
      s.max_duration_s = number_arg(a, value(), 1, 86400);
    else if (a == "--allow-remote")
      s.allow_remote = true;
    else
      die_usage("unknown option " + a);
  }
  if (!duration_set && s.requests) s.duration_s = s.max_duration_s;
  if (!retry) s.opts.backoff.clear();
  if (s.target == "compat-http")
    s.opts.kind = client::face::compat, s.opts.via = client::transport::http;
  else if (s.target == "compat-ws")
    s.opts.kind = client::face::compat, s.opts.via = client::transport::websocket;
  else if (s.target == "v1-sse")
    s.opts.kind = client::face::v1, s.opts.via = client::transport::http;
  else if (s.target == "v1-ws")
    s.opts.kind = client::face::v1, s.opts.via = client::transport::websocket;
  else if (s.target == "openai")
    s.opts.kind = client::face::openai, s.opts.via = client::transport::http;
  else
    die_usage("--target: expected compat-http, compat-ws, v1-sse, v1-ws or openai, got \"" +
              s.target + "\"");
  try {
    s.server = client::parse_server(s.url);
  } catch (const std::invalid_argument& e) {
    die_usage(std::string("--url: ") + e.what());
  }
  s.server.api_key = api_key;
  if (!path.empty()) s.server.http_path = path;
  if (!s.allow_remote && !client::is_loopback(s.server.host))
    die_usage("--url: " + s.server.host +
              " is not loopback; pass --allow-remote to load another machine");
  if (s.rate == 0 && s.concurrency > s.max_connections)
    die_usage("-c " + std::to_string(s.concurrency) + " is over --max-connections " +
              std::to_string(s.max_connections));
  if (s.idle > s.max_connections)
    die_usage("--idle " + std::to_string(s.idle) + " is over --max-connections " +
              std::to_string(s.max_connections));
  if (s.duration_s > s.max_duration_s) s.duration_s = s.max_duration_s;
  s.specs = load_specs(s);
  return s;
}

// ---- the run -------------------------------------------------------------------------

class load_run;

// One stream's clock: turns the client's callbacks into a stream_record.
class stream_watch : public client::observer {
 public:
  stream_watch(load_run& run, std::size_t index, int worker, bool keep_text)
      : run_(run), index_(index), worker_(worker), keep_text_(keep_text), t0_(clock_type::now()) {}
  void on_connected() override;
  void on_response() override;
  void on_text(std::string_view text) override;
  void on_finish(const client::result& r) override;
  // The call, for --drop-after.
  void set_call(std::weak_ptr<client::call> c) { call_ = std::move(c); }

 private:
  float since(clock_type::time_point t) const {
    return std::chrono::duration<float, std::milli>(t - t0_).count();
  }
  stream_record& rec();

  load_run& run_;
  std::size_t index_;
  int worker_;
  bool keep_text_;
  clock_type::time_point t0_, last_;
  std::string text_;
  std::weak_ptr<client::call> call_;
  bool dropped_ = false;
};

class load_run {
 public:
  explicit load_run(settings s)
      : s_(std::move(s)),
        progress_(io_),
        stopper_(io_),
        pacer_(io_),
        signals_(io_, SIGINT, SIGTERM) {
    data_.info.target = s_.target;
    data_.info.url = s_.url;
    if (s_.rate > 0)
      data_.info.mode = "open loop, " + json::format_number(s_.rate) + " streams/s";
    else
      data_.info.mode = "closed loop, " + std::to_string(s_.concurrency) + " clients";
    if (s_.requests)
      data_.info.mode += ", " + std::to_string(s_.requests) + " requests";
    else
      data_.info.mode += ", " + json::format_number(s_.duration_s) + " s";
  }

  askload::run_data run() {
    t0_ = clock_type::now();
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) stop_starting(true);
    });
    tick();
    if (s_.rate > 0) {
      pace();
    } else {
      for (int w = 0; w < s_.concurrency; ++w) {
        auto t = std::make_shared<asio::steady_timer>(io_);
        t->expires_at(t0_ + to_duration(s_.ramp_s * w / s_.concurrency));
        t->async_wait([this, w, t](const boost::system::error_code& ec) {
          if (!ec && !stopping_) launch(w);
        });
      }
    }
    stopper_.expires_at(t0_ + to_duration(s_.duration_s));
    stopper_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) stop_starting(false);
    });
    io_.run();
    data_.info.elapsed_s = seconds_since_start();
    if (!s_.quiet) std::fputs(tty_ ? "\n" : "", stderr);
    return std::move(data_);
  }

  // ---- called by stream_watch ----
  stream_record& record(std::size_t i) { return data_.streams[i]; }
  void gap(float ms) {
    if (data_.gaps.size() < (8u << 20)) data_.gaps.push_back(ms);
  }
  int drop_after() const { return s_.drop_after; }
  const std::optional<std::string>& expected(std::size_t i) const {
    return s_.specs[i % s_.specs.size()].expect;
  }
  void finished(std::size_t index, int worker, const client::result& r) {
    auto& rec = data_.streams[index];
    rec.finished = true;
    rec.what = r.what;
    rec.attempts = static_cast<std::uint8_t>(std::min(r.attempts, 255));
    --in_flight_;
    active_.erase(index);
    auto& sec = second_now();
    if (r.what == client::outcome::ok) {
      ++sec.done;
    } else {
      ++sec.failed;
      auto cls = std::string(client::name(r.what));
      ++sec.errors[cls];
      data_.first_error.emplace(cls, r.message);
    }
    if (!stopping_ && s_.rate == 0 && may_start()) {
      if (r.what == client::outcome::ok) return launch(worker);
      // A failed client pauses before its next stream: a server that refuses at once
      // must not turn the loop into a tight one (nor the records into gigabytes).
      auto t = std::make_shared<asio::steady_timer>(io_, failure_pause);
      return t->async_wait([this, worker, t](const boost::system::error_code& ec) {
        if (!ec && !stopping_ && may_start())
          launch(worker);
        else if (stopping_ && in_flight_ == 0)
          finish();
      });
    }
    if (stopping_ && in_flight_ == 0) finish();
  }

 private:
  static clock_type::duration to_duration(double seconds) {
    return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  }
  double seconds_since_start() const {
    return std::chrono::duration<double>(clock_type::now() - t0_).count();
  }
  askload::second_stats& second_now() {
    auto i = static_cast<std::size_t>(seconds_since_start());
    if (data_.timeline.size() <= i) data_.timeline.resize(i + 1);
    return data_.timeline[i];
  }
  bool may_start() const { return s_.requests == 0 || started_ < s_.requests; }

  void launch(int worker) {
    auto index = data_.streams.size();
    data_.streams.emplace_back();
    data_.streams.back().start_s = seconds_since_start();
    ++started_;
    ++in_flight_;
    ++second_now().started;
    const auto& spec = s_.specs[index % s_.specs.size()];
    auto watch = std::make_shared<stream_watch>(*this, index, worker, spec.expect.has_value());
    active_[index] = client::start(io_, s_.server, spec.body, s_.opts, watch);
    watch->set_call(active_[index]);
    if (!may_start()) stop_starting(false);
  }

  // Open loop: the next start is due 1/rate after the last one was due, not after it ran.
  void pace() {
    if (stopping_ || !may_start()) return;
    double interval = 1.0 / s_.rate;
    // During the ramp the rate climbs linearly from a tenth of the target.
    if (s_.ramp_s > 0 && seconds_since_start() < s_.ramp_s)
      interval /= std::max(0.1, seconds_since_start() / s_.ramp_s);
    next_start_ =
        (next_start_ == clock_type::time_point{} ? t0_ : next_start_) + to_duration(interval);
    if (in_flight_ < s_.max_connections)
      launch(-1);
    else
      ++data_.info.skipped;
    pacer_.expires_at(next_start_);
    pacer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) pace();
    });
  }

  void stop_starting(bool interrupted) {
    if (!stopping_) {
      stopping_ = true;
      pacer_.cancel();
      stopper_.expires_after(to_duration(interrupted ? 0 : s_.drain_s));
      // Streams still open when the drain ends are cut (counted as cancelled).
      stopper_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) cancel_all();
      });
    } else if (interrupted) {
      cancel_all();
    }
    if (in_flight_ == 0) finish();
  }

  // cancel() only posts to the call's strand: active_ does not change under this loop.
  void cancel_all() {
    for (auto& [i, c] : active_) c->cancel();
  }

  void finish() {
    done_ = true;
    progress_.cancel();
    stopper_.cancel();
    pacer_.cancel();
    signals_.clear();  // Ctrl-C is the default again (a queued wait would swallow it)
    signals_.cancel();
  }

  void tick() {
    if (done_) return;  // a tick already due when finish() cancelled the timer
    if (!s_.quiet) print_progress();
    second_now().in_flight = static_cast<int>(in_flight_);
    progress_.expires_after(std::chrono::seconds(1));
    progress_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void print_progress() {
    long done = 0, failed = 0;
    for (const auto& t : data_.timeline) done += t.done, failed += t.failed;
    double now = seconds_since_start();
    // Streams ended per second over the last (up to) three full seconds.
    auto i = static_cast<std::size_t>(now);
    double rate = 0;
    std::size_t from = i >= 3 ? i - 3 : 0;
    for (std::size_t k = from; k < i && k < data_.timeline.size(); ++k)
      rate += data_.timeline[k].done + data_.timeline[k].failed;
    if (i > from) rate /= static_cast<double>(i - from);
    auto ttft =
        askload::distribution_of(askload::values_of(data_.streams, &stream_record::ttft_ms));
    char line[256];
    std::snprintf(line, sizeof line,
                  "%6.1fs  done %ld  failed %ld  in flight %ld  %.0f/s  ttft p50 %.1f p99 %.1f ms",
                  now, done, failed, in_flight_, rate, ttft.p50, ttft.p99);
    if (tty_)
      std::fprintf(stderr, "\r%s\x1b[K", line);
    else if (i % 5 == 0)
      std::fprintf(stderr, "%s\n", line);
  }

  settings s_;
  asio::io_context io_{1};
  asio::steady_timer progress_, stopper_, pacer_;
  asio::signal_set signals_;
  clock_type::time_point t0_, next_start_{};
  askload::run_data data_;
  std::unordered_map<std::size_t, std::shared_ptr<client::call>> active_;
  long started_ = 0, in_flight_ = 0;
  bool stopping_ = false;
  bool done_ = false;
  bool tty_ = isatty(STDERR_FILENO);
};

stream_record& stream_watch::rec() {
  return run_.record(index_);
}

void stream_watch::on_connected() {
  if (rec().connect_ms < 0) rec().connect_ms = since(clock_type::now());
}

void stream_watch::on_response() {
  if (rec().ttfb_ms < 0) rec().ttfb_ms = since(clock_type::now());
}

void stream_watch::on_text(std::string_view text) {
  auto now = clock_type::now();
  auto& r = rec();
  if (r.ttft_ms < 0) {
    r.ttft_ms = since(now);
  } else {
    float g = std::chrono::duration<float, std::milli>(now - last_).count();
    run_.gap(g);
    if (g > r.max_gap_ms) r.max_gap_ms = g;
  }
  last_ = now;
  r.bytes += text.size();
  ++r.chunks;
  if (keep_text_) text_ += text;
  auto drop_after = static_cast<std::uint64_t>(run_.drop_after());
  if (!dropped_ && drop_after > 0 && r.chunks == drop_after) {
    dropped_ = true;
    if (auto c = call_.lock()) c->drop_connection();
  }
}

void stream_watch::on_finish(const client::result& r) {
  auto& x = rec();
  x.total_ms = since(clock_type::now());
  if (keep_text_) x.check = askload::compare(*run_.expected(index_), text_);
  run_.finished(index_, worker_, r);
}

// ---- --idle: connections held open, nothing asked ------------------------------------

int hold_idle(const settings& s) {
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  asio::io_context io{1};
  bool ws = s.opts.via == client::transport::websocket;
  std::vector<std::unique_ptr<websocket::stream<beast::tcp_stream>>> sockets;
  sockets.reserve(static_cast<std::size_t>(s.idle));
  int open = 0, failed = 0;
  auto t0 = clock_type::now();
  std::vector<float> connect_ms;
  asio::ip::tcp::endpoint ep;
  try {
    ep = {asio::ip::make_address(s.server.host == "localhost" ? "127.0.0.1" : s.server.host),
          s.server.port};
  } catch (const std::exception&) {
    die_usage("--idle needs a numeric address in --url");
  }
  for (int i = 0; i < s.idle; ++i) {
    sockets.push_back(std::make_unique<websocket::stream<beast::tcp_stream>>(io));
    auto* w = sockets.back().get();
    auto started = clock_type::now();
    beast::get_lowest_layer(*w).async_connect(ep, [&, w, started](beast::error_code ec) {
      if (ec) return void(++failed);
      if (!ws) {
        ++open;
        return connect_ms.push_back(
            std::chrono::duration<float, std::milli>(clock_type::now() - started).count());
      }
      w->set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
        if (s.opts.kind == client::face::v1)
          req.set(beast::http::field::sec_websocket_protocol, "askd.v1");
        if (!s.server.api_key.empty())
          req.set(beast::http::field::authorization, "Bearer " + s.server.api_key);
      }));
      w->async_handshake(
          s.server.host, s.server.ws_path.empty() ? "/ws/chat" : s.server.ws_path,
          [&, w, started](beast::error_code ec) {
            if (ec) return void(++failed);
            ++open;
            connect_ms.push_back(
                std::chrono::duration<float, std::milli>(clock_type::now() - started).count());
            // Read so pings are answered; the read ends when we close.
            auto buf = std::make_shared<beast::flat_buffer>();
            w->async_read(*buf, [buf](beast::error_code, std::size_t) {});
          });
    });
  }
  asio::steady_timer hold(io);
  hold.expires_after(std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(s.duration_s)));
  hold.async_wait([&](beast::error_code) {
    if (!s.quiet) std::fprintf(stderr, "askload: %d open, %d failed; closing\n", open, failed);
    for (auto& w : sockets) {
      beast::error_code ec;
      beast::get_lowest_layer(*w).socket().close(ec);
    }
  });
  io.run();
  auto d = askload::distribution_of(connect_ms);
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (s.json_out)
    std::printf(
        "{\"idle\":%d,\"open\":%d,\"failed\":%d,\"held_s\":%s,\"connect_ms\":{\"p50\":%s,\"p99\":%"
        "s}}\n",
        s.idle, open, failed, json::format_number(secs).c_str(), json::format_number(d.p50).c_str(),
        json::format_number(d.p99).c_str());
  else
    std::printf("idle %s: %d open, %d failed, held %.1f s; connect p50 %.2f ms p99 %.2f ms\n",
                ws ? "WebSockets" : "connections", open, failed, secs, d.p50, d.p99);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  auto s = parse_args(argc, argv);
  if (s.idle) return hold_idle(s);
  bool quiet = s.quiet;
  auto json_out = s.json_out;
  auto html = s.html;
  load_run run(std::move(s));
  auto data = run.run();
  if (json_out)
    std::fputs(askload::summary_json(data).c_str(), stdout);
  else
    std::fputs(askload::summary_text(data).c_str(), stdout);
  if (!html.empty()) {
    std::ofstream out(html);
    out << askload::html_report(data);
    if (!out) {
      std::fprintf(stderr, "askload: cannot write %s\n", html.c_str());
      return 2;
    }
    if (!quiet) std::fprintf(stderr, "askload: report in %s\n", html.c_str());
  }
  for (const auto& r : data.streams)
    if (r.what != askd::client::outcome::ok ||
        (r.check != askload::verdict::none && r.check != askload::verdict::exact))
      return 1;
  return 0;
}
