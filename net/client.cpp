// net/client.cpp — one streamed question as a coroutine on its own strand: attempts over
// WebSocket or HTTP, the fallback between them, retries and v1 resumes (client.hpp).
#include "net/client.hpp"

#include <rapidjson/document.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <stdexcept>
#include <vector>

#include "core/json.hpp"
#include "providers/openai.hpp"
#include "providers/sse_parser.hpp"

namespace askd::client {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ws = beast::websocket;
using tcp = asio::ip::tcp;
using ms = std::chrono::milliseconds;

std::string_view name(outcome o) {
  switch (o) {
    case outcome::ok:
      return "ok";
    case outcome::bad_request:
      return "bad_request";
    case outcome::unauthorized:
      return "unauthorized";
    case outcome::forbidden:
      return "forbidden";
    case outcome::refused:
      return "refused";
    case outcome::server_error:
      return "server_error";
    case outcome::network:
      return "network";
    case outcome::timeout:
      return "timeout";
    case outcome::protocol:
      return "protocol";
    case outcome::cancelled:
      return "cancelled";
  }
  return "?";
}

std::string_view name(transport t) {
  switch (t) {
    case transport::automatic:
      return "auto";
    case transport::websocket:
      return "websocket";
    case transport::http:
      return "http";
  }
  return "?";
}

server parse_server(std::string_view url) {
  server s;
  std::string_view rest = url;
  if (rest.starts_with("https://") || rest.starts_with("wss://"))
    throw std::invalid_argument("TLS is not supported by this client; use http:// (" +
                                std::string(url) + ")");
  if (rest.starts_with("http://"))
    rest.remove_prefix(7);
  else if (rest.starts_with("ws://"))
    rest.remove_prefix(5);
  else if (rest.find("://") != std::string_view::npos)
    throw std::invalid_argument("unsupported scheme in " + std::string(url) + "; use http://");
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && rest.size() > slash + 1)
    s.http_path = std::string(rest.substr(slash));
  if (authority.empty()) throw std::invalid_argument("no host in " + std::string(url));
  auto colon = authority.rfind(':');
  auto bracket = authority.rfind(']');
  if (bracket != std::string_view::npos && colon < bracket) colon = std::string_view::npos;
  if (colon != std::string_view::npos) {
    auto port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      throw std::invalid_argument("bad port \"" + std::string(port) + "\" in " + std::string(url));
    s.port = static_cast<std::uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']')
    authority = authority.substr(1, authority.size() - 2);  // [::1]
  s.host = std::string(authority);
  return s;
}

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address_v4(std::string(host), ec);
  return !ec && a.is_loopback();
}

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string default_http_path(face f) {
  switch (f) {
    case face::compat:
      return "/chat/completions/stream";
    case face::v1:
      return "/v1/chat/stream";
    case face::openai:
      return "/v1/chat/completions";
  }
  return "/";
}

// A string member of a JSON object, or "" (absent, another type, not an object).
std::string_view string_field(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string_view(it->value.GetString(), it->value.GetStringLength())
             : std::string_view();
}

// "detail" of a FastAPI-shaped error body, else its first line.
std::string detail_of(std::string_view body) {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  if (parsed && doc.IsObject()) {
    for (const char* key : {"detail", "message"}) {
      auto it = doc.FindMember(key);
      if (it != doc.MemberEnd() && it->value.IsString()) return it->value.GetString();
    }
    auto e = doc.FindMember("error");
    if (e != doc.MemberEnd() && e->value.IsObject()) {
      auto m = e->value.FindMember("message");
      if (m != e->value.MemberEnd() && m->value.IsString()) return m->value.GetString();
    }
  }
  auto line = body.substr(0, std::min(body.find('\n'), std::size_t{300}));
  return std::string(line);
}

outcome outcome_of_status(int status) {
  if (status == 401) return outcome::unauthorized;
  if (status == 403) return outcome::forbidden;
  if (status == 429 || status == 503) return outcome::refused;
  if (status >= 400 && status < 500) return outcome::bad_request;
  return outcome::server_error;
}

// A v1 error code (PROTOCOL.md) as an outcome.
outcome outcome_of_code(std::string_view code) {
  if (code == "bad_request") return outcome::bad_request;
  if (code == "unauthorized") return outcome::unauthorized;
  if (code == "forbidden") return outcome::forbidden;
  if (code == "rate_limited" || code == "overloaded") return outcome::refused;
  return outcome::server_error;
}

class stream_call : public call,
                    public providers::decode_events,
                    public std::enable_shared_from_this<stream_call> {
 public:
  stream_call(asio::io_context& io, server to, std::string body, options o,
              std::shared_ptr<observer> obs)
      : exec_(asio::make_strand(io)),
        to_(std::move(to)),
        body_(std::move(body)),
        o_(std::move(o)),
        obs_(std::move(obs)),
        timer_(exec_) {
    if (to_.http_path.empty()) to_.http_path = default_http_path(o_.kind);
    if (to_.ws_path.empty()) to_.ws_path = "/ws/chat";
  }

  void begin() { asio::co_spawn(exec_, drive(shared_from_this()), asio::detached); }

  void cancel() override {
    asio::post(exec_, [self = shared_from_this()] {
      if (self->finished_) return;
      self->cancelled_ = true;
      self->timer_.cancel();
      if (self->close_current_) self->close_current_();
    });
  }

  void drop_connection() override {
    asio::post(exec_, [self = shared_from_this()] {
      if (!self->finished_ && self->close_current_) self->close_current_();
    });
  }

  // decode_events (the openai face's decoder)
  void on_delta(std::string_view text) override { emit_text(text); }
  void on_usage(const core::token_usage&) override {}
  void on_finish_reason(std::string_view reason) override { res_.finish_reason = reason; }

 private:
  static asio::awaitable<void> drive(std::shared_ptr<stream_call> self) {
    try {
      co_await self->run();
    } catch (const std::exception& e) {
      self->close_current_ = nullptr;  // it pointed into the attempt's frame, gone now
      self->res_.what = outcome::protocol;
      self->res_.message = e.what();
    }
    if (self->cancelled_) {
      self->res_.what = outcome::cancelled;
      self->res_.message = "cancelled";
      if (self->o_.kind == face::v1 && !self->res_.stream_id.empty())
        co_await self->delete_stream();
    }
    self->finished_ = true;
    self->close_current_ = nullptr;
    self->obs_->on_finish(self->res_);
  }

  asio::awaitable<void> run() {
    auto current = (o_.via == transport::http || o_.kind == face::openai) ? transport::http
                                                                          : transport::websocket;
    std::size_t retries = 0;
    for (;;) {
      res_.what = outcome::ok;
      res_.status = 0;
      res_.message.clear();
      res_.code.clear();
      res_.retry_after = ms(-1);
      res_.used = current;
      ++res_.attempts;
      if (current == transport::websocket)
        co_await ws_attempt();
      else
        co_await http_attempt();
      close_current_ = nullptr;
      if (cancelled_ || res_.what == outcome::ok) co_return;
      if (current == transport::websocket && o_.via == transport::automatic && !res_.text_seen &&
          res_.code.empty()) {
        // The socket failed before the first chunk: HTTP carries this request from now on.
        // (A v1 error frame with a code is the server's answer: HTTP would get the same.)
        current = transport::http;
        res_.fell_back = true;
        continue;
      }
      bool resumable = o_.kind == face::v1 && !res_.stream_id.empty() &&
                       (res_.what == outcome::network || res_.what == outcome::timeout);
      if (!resumable && !res_.text_seen) {
        // The server ended that stream (a refusal after meta, say): a retry asks anew.
        res_.stream_id.clear();
        last_seq_ = 0;
      }
      if (res_.text_seen && !resumable) co_return;  // never ask twice for text already shown
      bool retryable = resumable || res_.what == outcome::network ||
                       res_.what == outcome::timeout || res_.what == outcome::refused;
      if (!retryable || retries >= o_.backoff.size()) co_return;
      auto delay = o_.backoff[retries++];
      if (res_.retry_after > delay) delay = std::min(res_.retry_after, o_.max_retry_after);
      obs_->on_retry(res_, delay);
      timer_.expires_after(delay);
      co_await timer_.async_wait(use_tuple);
      if (cancelled_) co_return;
      if (resumable && res_.text_seen) ++res_.resumes;
    }
  }

  // ---- one attempt over HTTP -------------------------------------------------------

  asio::awaitable<void> http_attempt() {
    beast::tcp_stream s(exec_);
    close_current_ = [&s] {
      beast::error_code ec;
      s.socket().close(ec);
    };
    if (!co_await connect(s, o_.connect_timeout)) co_return;
    obs_->on_connected();

    bool resume = o_.kind == face::v1 && !res_.stream_id.empty();
    http::request<http::string_body> req(resume ? http::verb::get : http::verb::post,
                                         resume ? "/v1/streams/" + res_.stream_id : to_.http_path,
                                         11);
    req.set(http::field::host, to_.host);
    req.set(http::field::user_agent, "askd-client");
    req.set(http::field::accept, "text/event-stream");
    if (!to_.api_key.empty()) req.set(http::field::authorization, "Bearer " + to_.api_key);
    if (resume) {
      req.set("Last-Event-ID", std::to_string(last_seq_));
    } else {
      req.set(http::field::content_type, "application/json");
      req.body() = body_;
      req.prepare_payload();
    }
    s.expires_after(o_.idle_timeout);
    if (auto [ec, n] = co_await http::async_write(s, req, use_tuple); ec) co_return broken(ec);

    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> p;
    p.body_limit(boost::none);
    if (auto [ec, n] = co_await http::async_read_header(s, buf, p, use_tuple); ec)
      co_return broken(ec);
    obs_->on_response();
    int status = static_cast<int>(p.get().result_int());
    res_.status = status;
    if (status == 204 && resume) co_return;  // the stream had nothing more to send: complete
    if (status != 200) {
      auto retry_after = std::string(p.get()[http::field::retry_after]);
      http::response_parser<http::string_body> whole(std::move(p));
      whole.body_limit(64 * 1024);
      auto [ec, n] = co_await http::async_read(s, buf, whole, use_tuple);
      (void)n;
      refusal(status, ec ? std::string() : whole.get().body(), retry_after);
      if (resume && status == 404) res_.message = "the stream is gone (expired or unknown)";
      co_return;
    }

    begin_body();
    bool chunked = p.chunked();
    // The parser keeps references to these: they live as long as this attempt.
    auto on_header = [this](std::uint64_t, std::string_view, beast::error_code&) {
      chunk_start_ = true;
    };
    auto on_body = [this](std::uint64_t, std::string_view piece, beast::error_code&) {
      feed(piece);
      return piece.size();
    };
    if (chunked) {
      p.on_chunk_header(on_header);
      p.on_chunk_body(on_body);
    }
    char tmp[16 * 1024];
    while (!p.is_done() && res_.what == outcome::ok) {
      if (!chunked) {
        p.get().body().data = tmp;
        p.get().body().size = sizeof tmp;
        p.get().body().more = true;
      }
      s.expires_after(o_.idle_timeout);
      auto [ec, n] = co_await http::async_read_some(s, buf, p, use_tuple);
      (void)n;
      if (!chunked) {
        chunk_start_ = !body_started_;
        feed(std::string_view(tmp, sizeof tmp - p.get().body().size));
      }
      if (ec == http::error::need_buffer) continue;
      if (ec == http::error::end_of_stream && !chunked && !p.content_length()) break;
      if (ec) co_return broken(ec);
    }
    end_body();
    beast::error_code ignored;
    s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  // ---- one attempt over WebSocket --------------------------------------------------

  asio::awaitable<void> ws_attempt() {
    ws::stream<beast::tcp_stream> w(exec_);
    close_current_ = [&w] {
      beast::error_code ec;
      beast::get_lowest_layer(w).socket().close(ec);
    };
    auto open_limit = o_.via == transport::automatic ? o_.ws_open_timeout : o_.connect_timeout;
    if (!co_await connect(beast::get_lowest_layer(w), open_limit)) co_return;
    w.set_option(ws::stream_base::decorator([this](ws::request_type& req) {
      req.set(http::field::user_agent, "askd-client");
      if (!to_.api_key.empty()) req.set(http::field::authorization, "Bearer " + to_.api_key);
      if (o_.kind == face::v1) req.set(http::field::sec_websocket_protocol, "askd.v1");
    }));
    ws::response_type hres;
    if (auto [ec] = co_await w.async_handshake(hres, to_.host, to_.ws_path, use_tuple); ec) {
      if (ec == ws::error::upgrade_declined)
        co_return refusal(static_cast<int>(hres.result_int()), hres.body(),
                          std::string(hres[http::field::retry_after]));
      co_return broken(ec);
    }
    beast::get_lowest_layer(w).expires_never();
    ws::stream_base::timeout t{};
    t.handshake_timeout = o_.connect_timeout;
    t.idle_timeout = o_.idle_timeout;
    t.keep_alive_pings = false;
    w.set_option(t);
    obs_->on_connected();

    std::string first;
    if (o_.kind == face::compat) {
      first = body_;
    } else if (!res_.stream_id.empty()) {
      first = "{\"type\":\"resume\",\"stream_id\":" + core::json::quote(res_.stream_id) +
              ",\"after\":" + std::to_string(last_seq_) + "}";
    } else {
      first = "{\"type\":\"chat\",\"id\":\"1\",\"request\":" + body_ + "}";
    }
    w.text(true);
    if (auto [ec, n] = co_await w.async_write(asio::buffer(first), use_tuple); ec)
      co_return broken(ec);

    begin_body();
    bool first_frame = true;
    beast::flat_buffer buf;
    for (;;) {
      buf.clear();
      auto [ec, n] = co_await w.async_read(buf, use_tuple);
      (void)n;
      if (ec == ws::error::closed) {
        if (o_.kind == face::compat && res_.what == outcome::ok &&
            w.reason().code != ws::close_code::normal) {
          res_.what = outcome::network;
          res_.message = "the server closed the socket with code " +
                         std::to_string(static_cast<int>(w.reason().code));
        }
        break;
      }
      if (ec) co_return broken(ec);
      if (first_frame) obs_->on_response();
      first_frame = false;
      std::string_view frame(static_cast<const char*>(buf.data().data()), buf.size());
      if (o_.kind == face::compat) {
        if (frame.starts_with("Error:")) {
          fail(outcome::server_error, frame.substr(frame.size() > 6 && frame[6] == ' ' ? 7 : 6));
          break;
        }
        emit_text(frame);
        continue;
      }
      v1_frame(frame);
      if (ended_) {
        auto [cec] = co_await w.async_close(ws::close_code::normal, use_tuple);
        (void)cec;
        co_return;
      }
    }
    end_body();
  }

  // ---- shared steps ------------------------------------------------------------------

  // Connects within `limit`; false (with the failure recorded) when it cannot.
  // `for_attempt` false: the DELETE sent after a cancel, which must go out regardless.
  asio::awaitable<bool> connect(beast::tcp_stream& s, ms limit, bool for_attempt = true) {
    s.expires_after(limit);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(to_.host, ec);
    if (!ec) {
      std::tie(ec) = co_await s.async_connect(tcp::endpoint(addr, to_.port), use_tuple);
    } else {
      tcp::resolver resolver(exec_);
      auto [rec, results] =
          co_await resolver.async_resolve(to_.host, std::to_string(to_.port), use_tuple);
      ec = rec;
      if (!ec) std::tie(ec, std::ignore) = co_await s.async_connect(results, use_tuple);
    }
    // cancel() came while resolving or connecting, when close_current_ had nothing open.
    if (for_attempt && cancelled_) {
      s.close();
      co_return false;
    }
    if (ec) {
      broken(ec, "cannot connect to " + to_.host + ":" + std::to_string(to_.port) + ": ");
      co_return false;
    }
    s.socket().set_option(tcp::no_delay(true), ec);
    co_return true;
  }

  void broken(const boost::system::error_code& ec, std::string prefix = {}) {
    if (cancelled_) return;
    bool timed_out = ec == beast::error::timeout;
    res_.what = timed_out ? outcome::timeout : outcome::network;
    if (prefix.empty())
      prefix = res_.text_seen ? "the connection broke mid-answer: " : "the connection failed: ";
    res_.message = prefix + (timed_out ? "timed out" : ec.message());
  }

  void refusal(int status, std::string_view body, const std::string& retry_after) {
    res_.status = status;
    res_.what = outcome_of_status(status);
    res_.message = "HTTP " + std::to_string(status);
    auto detail = detail_of(body);
    if (!detail.empty()) res_.message += ": " + detail;
    int seconds = 0;
    auto [end, ec] =
        std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
    (void)end;
    if (!retry_after.empty() && ec == std::errc()) res_.retry_after = std::chrono::seconds(seconds);
  }

  void fail(outcome what, std::string_view message, std::string code = {}) {
    res_.what = what;
    res_.message = std::string(message);
    res_.code = std::move(code);
    ended_ = true;
  }

  void emit_text(std::string_view text) {
    if (text.empty()) return;
    res_.text_seen = true;
    obs_->on_text(text);
  }

  void begin_body() {
    ended_ = false;
    body_started_ = false;
    chunk_start_ = true;
    in_error_chunk_ = false;
    error_text_.clear();
    sse_ = providers::sse_parser();
    if (o_.kind == face::openai) openai_ = providers::make_openai_decoder("upstream");
  }

  // Bytes of an HTTP body, in the face's format. chunk_start_ marks a chunk's first bytes.
  void feed(std::string_view bytes) {
    if (bytes.empty()) return;
    body_started_ = true;
    bool starts_chunk = std::exchange(chunk_start_, false);
    switch (o_.kind) {
      case face::compat:
        // deepwiki's in-band error: a chunk of its own starting with "\nError:".
        if (starts_chunk && bytes.starts_with("\nError:")) in_error_chunk_ = true;
        if (in_error_chunk_)
          error_text_ += bytes;
        else
          emit_text(bytes);
        break;
      case face::v1: {
        events_.clear();
        if (!sse_.feed(bytes, events_)) return fail(outcome::protocol, "an SSE event too large");
        for (const auto& e : events_) v1_sse_event(e);
        break;
      }
      case face::openai:
        if (ended_) return;
        if (auto err = openai_->feed(bytes, *this))
          fail(err->code == core::error_code::bad_response ? outcome::protocol
                                                           : outcome::server_error,
               err->message);
        break;
    }
  }

  // The body (or socket) ended cleanly; decide whether the answer was whole.
  void end_body() {
    if (res_.what != outcome::ok) return;
    switch (o_.kind) {
      case face::compat:
        if (in_error_chunk_) {
          std::string_view e = error_text_;
          e.remove_prefix(std::min<std::size_t>(e.size(), e.starts_with("\nError: ") ? 8 : 7));
          fail(outcome::server_error, e);
        }
        break;
      case face::v1:
        if (!ended_) {
          res_.what = outcome::network;
          res_.message = "the stream ended before its done event";
        }
        break;
      case face::openai:
        if (!ended_)
          if (auto err = openai_->finish(*this)) fail(outcome::protocol, err->message);
        break;
    }
  }

  // One askd.v1 frame: {"type","stream_id","seq","data"}, parsed once.
  void v1_frame(std::string_view frame) {
    rapidjson::Document doc;
    bool parsed = core::json::try_parse(frame, doc);
    if (!parsed || !doc.IsObject())
      return fail(outcome::protocol, "a frame that is not a JSON object");
    if (auto id = string_field(doc, "stream_id"); !id.empty() && res_.stream_id.empty())
      res_.stream_id = id;
    auto seq = doc.FindMember("seq");
    auto data = doc.FindMember("data");
    static const rapidjson::Value no_data(rapidjson::kObjectType);
    v1_event(string_field(doc, "type"),
             seq != doc.MemberEnd() && seq->value.IsInt64() ? seq->value.GetInt64() : 0,
             data != doc.MemberEnd() ? data->value : no_data, {});
  }

  // One SSE event of the v1 face: its data line is the event's JSON.
  void v1_sse_event(const providers::sse_event& e) {
    std::int64_t seq = 0;
    std::from_chars(e.id.data(), e.id.data() + e.id.size(), seq);
    rapidjson::Document doc;
    // A data line that is not JSON (or nests too deep) reads as an event without data.
    if (!core::json::try_parse(e.data, doc)) doc.SetNull();
    v1_event(e.event, seq, doc, e.data);
  }

  // One v1 event, from SSE or a socket frame. `raw` is the data's JSON text when the event
  // came as text (SSE); a frame's is written only for the observer's non-delta events.
  void v1_event(std::string_view type, std::int64_t seq, const rapidjson::Value& data,
                std::string_view raw) {
    if (seq > 0) last_seq_ = seq;
    if (type == "delta") return emit_text(string_field(data, "text"));
    if (type == "meta" && res_.stream_id.empty()) res_.stream_id = string_field(data, "stream_id");
    if (type == "done") {
      res_.finish_reason = string_field(data, "finish_reason");
      ended_ = true;
    }
    if (type == "error") {
      auto code = std::string(string_field(data, "code"));
      fail(outcome_of_code(code), string_field(data, "message"), code);
      if (data.IsObject()) {
        auto ra = data.FindMember("retry_after_ms");
        if (ra != data.MemberEnd() && ra->value.IsInt64())
          res_.retry_after = ms(ra->value.GetInt64());
      }
    }
    if (!raw.empty()) return obs_->on_event(type, raw);
    obs_->on_event(type, data.IsObject() ? core::json::write(data) : std::string("{}"));
  }

  // Cancels a v1 stream on the server (best effort, a second at most).
  asio::awaitable<void> delete_stream() {
    beast::tcp_stream s(exec_);
    if (!co_await connect(s, ms(1000), false)) co_return;
    http::request<http::empty_body> req(http::verb::delete_, "/v1/streams/" + res_.stream_id, 11);
    req.set(http::field::host, to_.host);
    if (!to_.api_key.empty()) req.set(http::field::authorization, "Bearer " + to_.api_key);
    s.expires_after(ms(1000));
    if (auto [ec, n] = co_await http::async_write(s, req, use_tuple); ec) co_return;
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    co_await http::async_read(s, buf, res, use_tuple);
  }

  asio::strand<asio::io_context::executor_type> exec_;
  server to_;
  std::string body_;
  options o_;
  std::shared_ptr<observer> obs_;
  asio::steady_timer timer_;
  std::function<void()> close_current_;  // closes the current attempt's socket
  result res_;
  bool cancelled_ = false;
  bool finished_ = false;
  std::int64_t last_seq_ = 0;

  // Per attempt: decoding state.
  bool ended_ = false;  // the face's end marker (v1 done/error, an error) was seen
  bool body_started_ = false;
  bool chunk_start_ = true;
  bool in_error_chunk_ = false;
  std::string error_text_;
  providers::sse_parser sse_;
  std::vector<providers::sse_event> events_;
  std::unique_ptr<providers::stream_decoder> openai_;
};

}  // namespace

std::shared_ptr<call> start(asio::io_context& io, const server& to, std::string body,
                            const options& opts, std::shared_ptr<observer> obs) {
  auto c = std::make_shared<stream_call>(io, to, std::move(body), opts, std::move(obs));
  c->begin();
  return c;
}

}  // namespace askd::client
