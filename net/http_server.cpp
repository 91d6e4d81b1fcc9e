// The Beast side of net/http_server.hpp, in the style of Beast's advanced server: a
// listener, one session class per connection kind, each owned by shared_from_this()
// on a strand, every async step do_x() followed by its completion on_x().
#include "net/http_server.hpp"

#include <charconv>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <deque>
#include <iterator>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace askd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ws = beast::websocket;
using tcp = asio::ip::tcp;
// A connection's socket carries its strand as its executor's own type: asio's type-erased
// any_io_executor is 56 bytes against the strand's 24, and every operation pending on a
// socket holds two or three copies (bench/RESULTS.md, memory per idle WebSocket).
using strand = asio::strand<asio::io_context::executor_type>;
using socket_type = asio::basic_stream_socket<tcp, strand>;

std::string_view request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

std::string request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    if (percent_decode(part.substr(0, eq)) == name)
      return eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

namespace {

// The head of a chunk of `size` bytes in chunked transfer encoding ("1a\r\n"), written
// into `buf`; its length.
std::size_t chunk_head(char (&buf)[20], std::size_t size) {
  // to_chars, not snprintf: this runs once per delta, and snprintf's ~500 instructions
  // were a few percent of a delta's user-space cost.
  auto end = std::to_chars(buf, buf + 16, size, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  return static_cast<std::size_t>(end - buf);
}

// A chunk framed for one sendmsg without a copy: its size line, the data, CR LF.
struct framed_chunk {
  char hex[20];
  iovec iov[3];
  explicit framed_chunk(std::string_view data)
      : iov{{hex, chunk_head(hex, data.size())},
            {const_cast<char*>(data.data()), data.size()},
            {const_cast<char*>("\r\n"), 2}} {}
};

// For a connection's operations: asio allocates an operation through its handler's
// allocator, and swaps std::allocator for its recycling one, which keeps the block of an
// operation that ended for the thread's next one, whatever its size. An operation pending
// for a connection's life (a stream's watch, an idle WebSocket's read, Beast's ping timer)
// then held the block a larger one had left (a header read's 614 bytes for a 100-byte
// wait; the handshake's 800-byte write for a WebSocket's timer; heaptrack). With this
// allocator each takes its own size, and leaves no block behind.
template <class T>
struct exact_allocator {
  using value_type = T;
  exact_allocator() = default;
  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const exact_allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const exact_allocator<U>&) const noexcept {
    return false;
  }
};

template <class Handler>
auto exactly_sized(Handler&& h) {
  return asio::bind_allocator(exact_allocator<void>(), std::forward<Handler>(h));
}

std::string detail_json(std::string_view detail) {
  return "{\"detail\":" + core::json::quote(detail) + "}";
}

// A streamed response's head: what Beast's serializer wrote for it, but as text that any
// thread can send (http_session::start_now). The fields are `common`, then `extra`; a
// later field replaces an earlier one of the same name, as Beast's set() does. The
// framing fields are the session's own (chunked; Connection: close when the connection
// ends after this response), so a producer's are dropped, as is a field carrying CR or LF.
std::string response_head(int status, const header_list& common, const header_list& extra,
                          bool keep_alive) {
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  std::string out;
  out.reserve(256);
  auto add = [&out](std::string_view s) { out.append(s.data(), s.size()); };
  add("HTTP/1.1 ");
  add(std::to_string(status));
  add(" ");
  add({reason.data(), reason.size()});
  add("\r\n");
  auto same = [](const std::string& a, std::string_view b) { return beast::iequals(a, b); };
  // The fields in order, `common` then `extra`, as one sequence.
  auto n = common.size() + extra.size();
  auto field = [&](std::size_t i) -> const auto& {
    return i < common.size() ? common[i] : extra[i - common.size()];
  };
  bool server_set = false;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& [name, value] = field(i);
    bool replaced = false;
    for (auto j = i + 1; j < n && !replaced; ++j) replaced = same(field(j).first, name);
    if (name.empty() || replaced || same(name, "Transfer-Encoding") ||
        same(name, "Content-Length") || same(name, "Connection") ||
        core::contains_any(name, "\r\n:") || core::contains_any(value, "\r\n"))
      continue;
    server_set = server_set || same(name, "Server");
    add(name);
    add(": ");
    add(value);
    add("\r\n");
  }
  if (!server_set) add("Server: askd\r\n");
  if (!keep_alive) add("Connection: close\r\n");
  add("Transfer-Encoding: chunked\r\n\r\n");
  return out;
}

// What stop() and the timeout sweep need from every live connection.
class connection {
 public:
  virtual ~connection() = default;
  virtual void shutdown_now() = 0;
  // The sweep found due() passed: the connection closes unless its read ended meanwhile.
  virtual void time_out() {}
  // When the read in progress must have ended (steady_clock ticks); 0: no limit running.
  std::int64_t due() const { return due_.load(std::memory_order_relaxed); }
  // On the strand, when the sweep's call arrives: whether the limit it found passed still
  // has (not re-armed meanwhile, or disarmed).
  bool overdue() const {
    auto due = this->due();
    return due && due <= now_ticks();
  }

 protected:
  static std::int64_t now_ticks() {
    return std::chrono::steady_clock::now().time_since_epoch().count();
  }
  // On the connection's strand, or under the write gate's lock while the gate is open
  // (http_session::finish_now); the sweep reads it from its own.
  void arm(std::chrono::milliseconds limit) {
    auto ticks = std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit).count();
    due_.store(now_ticks() + ticks, std::memory_order_relaxed);
  }
  void disarm() { due_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> due_{0};
};

}  // namespace

struct http_server::impl {
  impl(std::shared_ptr<service> s, server_limits l, int n)
      : acceptor(ioc), svc(std::move(s)), limits(l), threads(n) {}

  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::shared_ptr<service> svc;
  server_limits limits;
  int threads;
  std::vector<std::thread> pool;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> accepting{false};
  std::atomic<std::size_t> bodies{0};  // bytes of bodies/messages being received (the budget)

  // Takes `n` bytes of the body budget; false, taking nothing, past it.
  bool take_body(std::size_t n) {
    if (!limits.body_budget_bytes || !n) return true;
    if (bodies.fetch_add(n, std::memory_order_relaxed) + n > limits.body_budget_bytes) {
      bodies.fetch_sub(n, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void give_body(std::size_t n) {
    if (limits.body_budget_bytes && n) bodies.fetch_sub(n, std::memory_order_relaxed);
  }
  tcp::endpoint peer;  // the connection being accepted (accept4 fills it: no getpeername)

  std::mutex live_mutex;
  std::uint64_t next_id = 1;
  // `raw` is read under the lock only: a connection leaves (in its destructor's body)
  // before its storage goes.
  struct live_entry {
    std::weak_ptr<connection> weak;
    const connection* raw;
  };
  std::unordered_map<std::uint64_t, live_entry> live;

  std::uint64_t enrol(const std::shared_ptr<connection>& c) {
    std::lock_guard<std::mutex> lock(live_mutex);
    auto id = next_id++;
    live.emplace(id, live_entry{c, c.get()});
    return id;
  }
  void leave(std::uint64_t id) {
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      live.erase(id);
    }
    connections.fetch_sub(1, std::memory_order_relaxed);
  }

  // The header, body and keep-alive limits: one timer for the server, looking every
  // `sweep_every` for connections past their due time, instead of a timer per connection
  // (Beast's tcp_stream armed and cancelled one per request and per read: a
  // timerfd_settime per request, and its timers' memory in every connection).
  // On a strand of its own: stop() cancels it from another thread while a sweep may be
  // re-arming it (several io threads).
  asio::steady_timer sweep_timer{asio::make_strand(ioc)};
  std::chrono::milliseconds sweep_every{1000};
  bool sweep_stopped = false;  // on the timer's strand
  void schedule_sweep();
  void sweep();

  void do_accept();
  void on_accept(beast::error_code ec, socket_type socket);
};

namespace {

// ---------------------------------------------------------------------------------------
// WebSocket session
class ws_session : public websocket,
                   public connection,
                   public std::enable_shared_from_this<ws_session> {
 public:
  // The HTTP session's plain socket: the timeouts are the server's sweep's (heard()), so
  // a tcp_stream's two timers and its layer in every pending read would be memory an idle
  // socket pays for nothing (bench/memory.sh).
  ws_session(http_server::impl& server, socket_type&& socket, std::string peer)
      : server_(server), ws_(std::move(socket)), peer_(std::move(peer)) {}

  ~ws_session() override {
    server_.give_body(charged_);
    server_.leave(id_);
  }

  void run(http::request<http::string_body> upgrade, upgrade_decision decision) {
    id_ = server_.enrol(shared_from_this());
    // The handshake, like everything after it, runs within the server's WebSocket limit.
    arm(server_.limits.ws_idle_timeout);
    if (decision.deflate) {
      ws::permessage_deflate pmd;
      pmd.server_enable = true;
      pmd.server_no_context_takeover = true;  // no compression state kept between messages
      pmd.client_no_context_takeover = true;
      pmd.msg_size_threshold = 256;  // small frames are sent as they are
      ws_.set_option(pmd);
    }
    ws_.read_message_max(server_.limits.max_body_bytes);
    ws_.control_callback([this](ws::frame_type kind, beast::string_view) {
      if (kind != ws::frame_type::close) return heard();  // a ping or a pong
      // Beast echoes any close code from 3000 up; RFC 6455 defines none past 4999. A
      // client sending one is failed without the echo.
      if (ws_.reason().code < 5000) return;
      core::log_info("websocket failed")
          .kv("peer", peer_)
          .kv("reason", "invalid close code")
          .kv("code", static_cast<std::uint64_t>(ws_.reason().code));
      beast::error_code ec;
      ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    });
    ws_.set_option(
        ws::stream_base::decorator([proto = decision.subprotocol](ws::response_type& res) {
          res.set(http::field::server, "askd");
          if (!proto.empty()) res.set(http::field::sec_websocket_protocol, proto);
        }));
    // The upgrade request and the handler factory live in the handshake's operation only.
    auto req = std::make_unique<http::request<http::string_body>>(std::move(upgrade));
    auto& r = *req;
    ws_.async_accept(
        r, exactly_sized([self = shared_from_this(), req = std::move(req),
                          accept = std::move(decision.accept)](beast::error_code ec) mutable {
          req.reset();
          self->on_accept(ec, accept);
        }));
  }

  // The server's sweep found this socket's limit passed (see heard()).
  void time_out() override {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->on_time_out(); });
  }

  // -- websocket (any thread) --
  // Posted, never run inline: a caller on this strand (a resume replaying into the
  // socket from the handler's on_text) must not see the session close under it.
  void send(std::string text) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), t = std::move(text)]() mutable {
      self->queue(std::move(t));
    });
  }
  void close(std::uint16_t code, std::string reason) override {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), code, r = std::move(reason)]() mutable {
                 if (self->close_queued_ || self->gone_) return;
                 self->close_queued_ = true;
                 self->close_code_ = code;
                 self->close_text_ = std::move(r);
                 self->pump();
               });
  }
  void shutdown_now() override {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->hard_close(); });
  }
  void when_drained(std::function<void()> fn) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(fn)]() mutable {
      if (self->gone_) return;
      self->drained_.push_back(std::move(f));
      if (!self->writing_ && self->head_ >= self->queue_.size()) self->run_drained();
    });
  }

 private:
  // Posted, so a waiter never runs inside the call that made the queue drain.
  void run_drained() {
    if (drained_.empty()) return;
    asio::post(ws_.get_executor(), [self = shared_from_this(), fns = std::move(drained_)] {
      if (self->gone_) return;
      for (const auto& f : fns) f();
    });
    drained_.clear();
  }
  void on_accept(
      beast::error_code ec,
      const std::function<std::shared_ptr<websocket_handler>(std::shared_ptr<websocket>)>& accept) {
    // Happens when the handshake is malformed or the client left during it. Closed
    // meanwhile (its time ran out, or the server is stopping while the handshake's
    // completion waited on the strand): no handler, which nothing would ever close.
    if (ec || gone_) return hard_close();
    open_ = true;
    heard();
    handler_ = accept(shared_from_this());
    do_read();
    pump();
  }

  // Timeouts, kept by the server's one sweep instead of Beast's timer per socket (whose
  // pending wait was 150-250 bytes of every idle socket, bench/memory.sh); the same rules:
  // a socket that sent nothing (no frame, no pong) for half of `ws_idle_timeout` is
  // pinged, and closed when nothing came for the whole of it. The opening handshake and
  // the wait for the client's answer to a close get the whole limit.
  void heard() {
    if (!open_ || close_sent_ || gone_) return;
    ping_out_ = false;
    arm(server_.limits.ws_idle_timeout / 2);
  }
  void on_time_out() {
    if (gone_ || !overdue()) return;  // something arrived meanwhile
    if (!open_ || close_sent_ || ping_out_) return hard_close();
    ping_out_ = true;
    arm(server_.limits.ws_idle_timeout / 2);
    // One ping at a time (Beast keeps one waiting behind a write): a ping still queued
    // behind a slow write is the same question.
    if (pinging_) return;
    pinging_ = true;
    ws_.async_ping({}, exactly_sized([self = shared_from_this()](beast::error_code) {
                     self->pinging_ = false;  // a failed ping fails the read too, which closes
                   }));
  }

  // A message is read in parts, each charged to the server's body budget until the
  // message is whole and handed over: many sockets each sending a large message slowly
  // cannot take more memory than the budget. The read waiting for a message's first part
  // reads into `first_`, 64 bytes inside the session (Beast's frame buffer in the stream
  // takes the socket's bytes; this one gets the payload): most sockets sit idle, and a
  // read into the dynamic buffer prepared its bytes on the heap and wrapped Beast's read
  // in a second operation (bench/memory.sh). Later parts read into `buffer_`, up to 64 KB
  // at a time, and it is freed once the message is handed over.
  void do_read() {
    if (buffer_.size() || charged_) {
      ws_.async_read_some(
          buffer_, 64 * 1024,
          exactly_sized(beast::bind_front_handler(&ws_session::on_read, shared_from_this())));
    } else {
      ws_.async_read_some(
          asio::buffer(first_),
          exactly_sized(beast::bind_front_handler(&ws_session::on_first_part, shared_from_this())));
    }
  }
  void on_first_part(beast::error_code ec, std::size_t n) {
    if (!ec) buffer_.commit(asio::buffer_copy(buffer_.prepare(n), asio::buffer(first_.data(), n)));
    on_read(ec, n);
  }
  void on_read(beast::error_code ec, std::size_t n) {
    // Happens when the client closes (ws::error::closed) or resets, or at a timeout.
    if (ec) return hard_close();
    heard();
    if (!ws_.got_text()) return refuse_message(1003, "binary frames are not supported");
    if (!server_.take_body(n))
      return refuse_message(1013, "the server is receiving too many messages; retry shortly");
    charged_ += n;
    if (!ws_.is_message_done()) return do_read();
    if (handler_ && !close_queued_) handler_->on_text(beast::buffers_to_string(buffer_.data()));
    buffer_.clear();
    buffer_.shrink_to_fit();
    server_.give_body(std::exchange(charged_, 0));
    do_read();
  }
  // Closes the socket with `code` instead of reading on.
  void refuse_message(std::uint16_t code, const char* why) {
    core::log_info("websocket closed")
        .kv("peer", peer_)
        .kv("code", std::uint64_t{code})
        .kv("reason", why);
    buffer_.clear();
    buffer_.shrink_to_fit();
    server_.give_body(std::exchange(charged_, 0));
    if (close_queued_) return;
    close_queued_ = true;
    close_code_ = code;
    close_text_ = why;
    pump();
  }

  void queue(std::string text) {
    if (gone_ || close_queued_) return;
    queued_bytes_ += text.size();
    if (queued_bytes_ > server_.limits.write_queue_bytes) {
      core::log_warn("slow websocket client cut off")
          .kv("peer", peer_)
          .kv("queued_bytes", queued_bytes_);
      return hard_close();
    }
    queue_.push_back(std::move(text));
    pump();
  }

  void pump() {
    if (writing_ || gone_) return;
    if (head_ < queue_.size()) {
      writing_ = true;
      // Out of the vector: a push_back may move the queued strings while this is written.
      writing_now_ = std::move(queue_[head_++]);
      if (head_ == queue_.size()) {  // drained: start over, keeping the storage
        queue_.clear();
        head_ = 0;
      } else if (head_ >= 64 && head_ * 2 >= queue_.size()) {  // a reader always a bit behind
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
      ws_.text(true);
      ws_.async_write(asio::buffer(writing_now_), exactly_sized(beast::bind_front_handler(
                                                      &ws_session::on_write, shared_from_this())));
    } else if (close_queued_ && !close_sent_) {
      writing_ = close_sent_ = true;
      arm(server_.limits.ws_idle_timeout);  // for the client's close in answer
      ws_.async_close(
          ws::close_reason(static_cast<ws::close_code>(close_code_), close_text_),
          exactly_sized(beast::bind_front_handler(&ws_session::on_close, shared_from_this())));
    }
  }
  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    // Happens when the client went away mid-write.
    if (ec) return hard_close();
    queued_bytes_ -= writing_now_.size();
    writing_now_.clear();
    pump();
    if (!writing_ && head_ >= queue_.size()) run_drained();
  }
  void on_close(beast::error_code) {
    writing_ = false;
    hard_close();
  }

  void hard_close() {
    if (gone_) return;
    gone_ = true;
    disarm();
    queue_.clear();
    head_ = 0;
    drained_.clear();
    server_.give_body(std::exchange(charged_, 0));
    beast::error_code ec;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
    if (handler_) {
      auto h = std::move(handler_);
      h->on_closed();
    }
  }

  http_server::impl& server_;
  ws::stream<socket_type> ws_;
  std::string peer_;
  std::uint64_t id_ = 0;
  beast::flat_buffer buffer_;
  std::array<char, 64> first_;  // a message's first part (do_read)
  std::shared_ptr<websocket_handler> handler_;
  // Frames to write, from head_ on. A vector: an empty std::deque already holds ~600 B,
  // and most sockets sit idle (bench/RESULTS.md, memory per idle WebSocket).
  std::vector<std::string> queue_;
  std::size_t head_ = 0;
  std::string writing_now_;  // the frame being written
  std::size_t queued_bytes_ = 0;
  std::size_t charged_ = 0;                     // of the body budget, by the message being read
  std::vector<std::function<void()>> drained_;  // when_drained waiters
  bool writing_ = false;
  bool close_queued_ = false;
  bool close_sent_ = false;
  bool gone_ = false;
  bool open_ = false;      // the handshake is done
  bool ping_out_ = false;  // pinged, nothing heard since
  bool pinging_ = false;   // a ping not yet written
  // The close to send: a ws::close_reason is 128 bytes, kept by every idle socket.
  std::uint16_t close_code_ = 0;
  std::string close_text_;
};

// ---------------------------------------------------------------------------------------
// HTTP session: reads requests one after another; while a response is being produced
// it keeps a read open so a client that goes away is noticed at once, not at the next
// write.
class http_session : public connection, public std::enable_shared_from_this<http_session> {
 public:
  http_session(http_server::impl& server, socket_type&& socket, std::string peer)
      : server_(server), socket_(std::move(socket)), peer_(std::move(peer)) {}
  ~http_session() override {
    server_.give_body(body_charge_);
    if (id_) server_.leave(id_);
  }

  void run() {
    id_ = server_.enrol(shared_from_this());
    asio::dispatch(socket_.get_executor(),
                   beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

  void shutdown_now() override {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->hard_close(); });
  }
  void time_out() override {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->overdue()) return;  // its read ended, or a later one began
      self->hard_close();            // the read completes with operation_aborted
    });
  }

  // -- the response object's operations, on the strand; `id` ignores stale responses --
  void do_send(std::uint64_t id, int status, std::string content_type, std::string body,
               header_list extra) {
    if (id != response_id_ || !handling_ || started_ || closed_) return;
    started_ = true;
    full_ =
        std::make_unique<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    full_->set(http::field::server, "askd");
    full_->set(http::field::content_type, content_type);
    for (auto& [k, v] : common_headers_) full_->set(k, v);
    for (auto& [k, v] : extra) full_->set(k, v);
    full_->keep_alive(keep_alive_);
    full_->body() = std::move(body);
    full_->prepare_payload();
    writing_ = true;
    http::async_write(socket_, *full_,
                      exactly_sized(beast::bind_front_handler(&http_session::on_full_written,
                                                              shared_from_this())));
  }

  void do_start(std::uint64_t id, int status, header_list headers, std::string first) {
    if (id != response_id_ || !handling_ || started_ || closed_) return;
    started_ = streaming_ = true;
    raw_ += response_head(status, common_headers_, headers, keep_alive_);
    pending_ += first;  // pump writes the head and its chunk together
    pump();
  }

  void do_write(std::uint64_t id, std::string chunk) {
    if (id != response_id_ || !streaming_ || finish_queued_ || abort_queued_ || closed_ ||
        chunk.empty())
      return;
    pending_ += chunk;
    auto queued = pending_.size() + inflight_.size() + raw_.size();
    if (queued > server_.limits.write_queue_bytes) {
      core::log_warn("slow client cut off").kv("peer", peer_).kv("queued_bytes", queued);
      return hard_close();
    }
    pump();
  }

  void do_add_headers(std::uint64_t id, header_list headers) {
    if (id != response_id_ || started_) return;
    for (auto& h : headers) common_headers_.push_back(std::move(h));
  }

  void do_when_drained(std::uint64_t id, std::function<void()> fn) {
    if (id != response_id_ || closed_ || response_done_) return;
    drained_.push_back(std::move(fn));
    if (idle()) run_drained();
  }

  void do_finish(std::uint64_t id) {
    if (id != response_id_ || !streaming_ || finish_queued_ || abort_queued_ || closed_) return;
    finish_queued_ = true;
    take_disconnect();  // the service ended it: a client leaving now is nothing to tell
    pump();
  }

  void do_abort(std::uint64_t id) {
    // After finish() the end is on its way (or sent): nothing to cut.
    if (id != response_id_ || closed_ || response_done_ || finish_queued_) return;
    take_disconnect();  // the service asked for it; nothing to tell it
    abort_queued_ = true;
    pump();  // sends what was written before, then cuts
  }

  void do_on_disconnect(std::uint64_t id, std::function<void()> fn) {
    if (id != response_id_ || response_done_ || finish_queued_) return;
    if (closed_) return asio::post(socket_.get_executor(), std::move(fn));  // it left already
    // A direct end was taken over before this ran (op_begins), and none comes while it
    // runs (the gate is shut): the callback is for a response still going.
    std::lock_guard<std::mutex> lock(gate_.m);
    gate_.disconnect = std::move(fn);
  }

  void do_after(std::uint64_t id, std::chrono::microseconds delay, std::function<void()> fn) {
    if (id != response_id_ || closed_ || response_done_) return;
    auto timer = std::make_shared<asio::steady_timer>(socket_.get_executor(), delay);
    timers_.push_back(timer);
    timer->async_wait(exactly_sized(
        [self = shared_from_this(), timer, id, fn = std::move(fn)](beast::error_code ec) {
          std::erase(self->timers_, timer);
          if (ec || self->closed_ || id != self->response_id_) return;
          fn();
        }));
  }

  // A timer holds the session until it fires: the response's timers go with it.
  void cancel_timers() {
    for (auto& t : timers_) t->cancel();
  }

  strand executor() { return socket_.get_executor(); }

  // -- sending from the thread that produced the response ------------------------------
  // A response's head, its chunks and its last chunk are sent straight from the caller's
  // thread when the connection has nothing queued, in flight or about to run on its
  // strand (the gate is open): no post and no wakeup of an io thread per delta, and
  // none for a stream's head or end (bench/RESULTS.md, relay benchmark; eighth pass).
  // The strand opens the gate when it falls idle and closes it before anything else
  // touches the socket; every response operation closes it until the strand has run it,
  // so nothing overtakes what was sent before it. What the gate did on its own (a head, an
  // end) the strand takes over before it next touches the response (adopt). False: the
  // gate is shut; post the operation.
  bool write_now(std::uint64_t id, std::string_view chunk) {
    std::unique_lock<std::mutex> lock(gate_.m, std::try_to_lock);
    if (!lock || gate_.phase != gate_phase::body || gate_.id != id || chunk.empty()) return false;
    framed_chunk framed(chunk);
    send_gated(framed.iov);
    return true;
  }

  // The head, while the response has not started: the head phase is open only while the
  // request is handled and nothing was sent or queued, so common_headers_ and keep_alive_
  // are the strand's to read (it changes them only with the gate shut).
  bool start_now(std::uint64_t id, int status, const header_list& headers, std::string_view first) {
    std::lock_guard<std::mutex> lock(gate_.m);
    if (gate_.phase != gate_phase::head || gate_.id != id) return false;
    auto head = response_head(status, common_headers_, headers, keep_alive_);
    gate_.started = true;
    gate_.phase = gate_phase::body;
    framed_chunk framed(first);
    iovec iov[4] = {{head.data(), head.size()}, framed.iov[0], framed.iov[1], framed.iov[2]};
    send_gated(std::span(iov, first.empty() ? 1 : 4));
    return true;
  }

  // The last chunk, on a connection that stays open, is watched for its next request and
  // has none waiting already: the strand hears of the end when the next request (or the
  // client's close) makes the socket readable, or at the idle limit armed here, and ends
  // the response then; nothing has to wake it now.
  bool finish_now(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(gate_.m);
    if (gate_.phase != gate_phase::body || gate_.id != id || !gate_.may_finish) return false;
    gate_.finished = true;  // and so the disconnect callback is not called (take_disconnect)
    iovec last{const_cast<char*>("0\r\n\r\n"), 5};
    if (send_gated(std::span(&last, 1))) arm(server_.limits.idle_timeout);
    gate_.phase = gate_phase::shut;
    return true;
  }

  // A response operation is on its way to the strand: the gate stays shut until it ran.
  void op_posted() {
    std::lock_guard<std::mutex> lock(gate_.m);
    ++gate_.posted;
    gate_.phase = gate_phase::shut;
  }
  // On the strand, before the operation runs.
  void op_begins() { adopt(); }
  // On the strand, after the operation ran: open the gate again if nothing is pending.
  void op_ran() {
    {
      std::lock_guard<std::mutex> lock(gate_.m);
      --gate_.posted;
    }
    maybe_open_gate();
  }

 private:
  // Under the gate's lock: sends `iov` at once. What the socket did not take is the gate's
  // tail, which the strand sends (or finds the client gone) before anything else; the
  // gate is shut until then. True: all of it went.
  bool send_gated(std::span<iovec> iov) {
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    std::size_t total = 0;
    for (const auto& v : iov) total += v.iov_len;
    auto sent = ::sendmsg(gate_.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == static_cast<ssize_t>(total)) return true;
    gate_.phase = gate_phase::shut;
    if (sent < 0) {
      // Out of buffers or memory for a moment: the strand's async write tries again.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != ENOMEM &&
          errno != EINTR) {
        // The client went away: nothing more goes to it.
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->hard_close(); });
        return false;
      }
      sent = 0;
    }
    std::string rest;
    rest.reserve(total - static_cast<std::size_t>(sent));
    for (auto& v : iov) {
      auto skip = std::min(static_cast<std::size_t>(sent), v.iov_len);
      rest.append(static_cast<const char*>(v.iov_base) + skip, v.iov_len - skip);
      sent -= static_cast<ssize_t>(skip);
    }
    gate_.tail = std::move(rest);
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->adopt()) self->pump();
    });
    return false;
  }

  // On the strand: takes over what the gate did on its own since the strand last looked.
  // A head sent there starts the response here; an end sent there ends it here (what the
  // socket did not take is written first). True: the response ended so.
  bool adopt() {
    bool started = false;
    bool finished = false;
    {
      std::lock_guard<std::mutex> lock(gate_.m);
      started = std::exchange(gate_.started, false);
      finished = std::exchange(gate_.finished, false);
    }
    if (started) started_ = streaming_ = true;
    if (!finished || closed_) return false;
    finish_queued_ = last_written_ = true;
    pump();
    return true;
  }

  // Nothing queued, in flight or left over by a direct write.
  bool idle() {
    if (writing_ || !pending_.empty() || !raw_.empty()) return false;
    std::lock_guard<std::mutex> lock(gate_.m);
    return gate_.tail.empty();
  }
  // Posted, so a waiter never runs inside the call that made the queue drain (it may
  // write, or take a lock its caller holds).
  void run_drained() {
    if (drained_.empty()) return;
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), id = response_id_, fns = std::move(drained_)] {
                 if (self->closed_ || id != self->response_id_) return;
                 for (const auto& f : fns) f();
               });
    drained_.clear();
  }

  // The head phase while a request is handled and nothing was sent; the body phase while
  // a stream has nothing queued. Not while the gate has done something the strand has not
  // taken over: its phase is its own until then.
  void maybe_open_gate() {
    if (!handling_ || (started_ && !streaming_) || writing_ || finish_queued_ || abort_queued_ ||
        last_written_ || closed_ || !pending_.empty() || !raw_.empty())
      return;
    std::lock_guard<std::mutex> lock(gate_.m);
    if (gate_.posted || !gate_.tail.empty() || gate_.started || gate_.finished) return;
    gate_.phase = streaming_ ? gate_phase::body : gate_phase::head;
    gate_.id = response_id_;
    gate_.fd = socket_.native_handle();
    gate_.may_finish = keep_alive_ && watching_ && buffer_.size() == 0;
  }
  // Before the strand writes, finishes or closes: nothing is sent from elsewhere meanwhile.
  void close_gate() {
    std::lock_guard<std::mutex> lock(gate_.m);
    gate_.phase = gate_phase::shut;
  }
  // On the strand: the disconnect callback, taken out (and so dropped here, unless the
  // caller keeps it); none once the response was ended from the producer's thread. It is
  // not dropped there: a producer calls finish() inside its stream hub's lock, and a
  // callback's captures (an attachment, a strong handle to a sink actor) are not
  // destroyed under a lock. So a connection whose stream ended there keeps the callback
  // until the strand takes the end over (its next request, its close, or the idle limit).
  std::function<void()> take_disconnect() {
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(gate_.m);
      fn = std::exchange(gate_.disconnect, nullptr);
      if (!gate_.finished) return fn;
    }
    return nullptr;  // fn is destroyed here, on the strand, outside the lock
  }
  // On the strand, when a pipelined request arrived: the response's end is the strand's
  // to send, so that it reads that request when it ends.
  void keep_finish() {
    std::lock_guard<std::mutex> lock(gate_.m);
    gate_.may_finish = false;
  }

  void do_read() {
    parser_ = std::make_unique<http::request_parser<http::string_body>>();
    parser_->body_limit(server_.limits.max_body_bytes);
    parser_->header_limit(16 * 1024);
    arm(first_request_ ? server_.limits.header_timeout : server_.limits.idle_timeout);
    // A new connection's request has usually come with it: one non-blocking read takes it.
    if (std::exchange(first_request_, false) && buffer_.size() == 0 && socket_.non_blocking()) {
      beast::error_code ec;
      auto n = socket_.read_some(buffer_.prepare(512), ec);
      if (!ec) buffer_.commit(n);  // else the read below finds what it was
    }
    if (auto ec = parse_buffered(); ec || parser_->is_header_done()) return on_header(ec, 0);
    http::async_read_header(
        socket_, buffer_, *parser_,
        exactly_sized(beast::bind_front_handler(&http_session::on_header, shared_from_this())));
  }

  void on_header(beast::error_code ec, std::size_t) {
    // The limit passed while this read's success was on its way: the connection is
    // closed, and the request is not handled.
    if (closed_) return;
    if (ec) return on_read(ec, 0);
    auto& req = parser_->get();
    // RFC 9112 6.3: a body framed by a transfer coding other than a final chunked cannot
    // be delimited; read as empty, its bytes would run as a second request (smuggling
    // behind a proxy). Refused, and the connection closed.
    if (req.count(http::field::transfer_encoding)) {
      std::string codings;
      for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it)
        codings += (codings.empty() ? "" : ", ") + std::string(it->value());
      if (!beast::iequals(codings, "chunked"))
        return refuse(parser_->chunked() ? 501 : 400,
                      "Transfer-Encoding " + core::json::quote(codings.substr(0, 100)) +
                          " is not supported: only chunked");
    }
    // The body budget is taken before any of the body is read: what the client says it
    // will send, or the most a chunked body may be.
    auto content_length = parser_->content_length();
    body_charge_ = content_length       ? static_cast<std::size_t>(*content_length)
                   : parser_->chunked() ? server_.limits.max_body_bytes
                                        : 0;
    if (body_charge_ > server_.limits.max_body_bytes) body_charge_ = 0;  // 413 below
    if (!server_.take_body(body_charge_)) {
      body_charge_ = 0;
      core::log_warn("body refused").kv("peer", peer_).kv("reason", "server.body_budget_bytes");
      return refuse(503, "The server is receiving too many request bodies at once; retry shortly",
                    {{"Retry-After", "1"}});
    }
    // curl and others wait up to a second for this before sending a large body.
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_ = std::make_unique<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(
          socket_, *continue_,
          exactly_sized([self = shared_from_this()](beast::error_code ec, std::size_t) {
            self->continue_.reset();
            if (ec) return self->hard_close();
            self->read_body();
          }));
      return;
    }
    read_body();
  }

  // What the buffer holds, parsed here: the head (or, once it is done, the body) of a
  // request that came whole in one read, as most do, is handled in the pass that read it.
  // Beast's reads would find it too, but complete through a posted handler: one more pass
  // of the io thread's loop (a zero-timeout epoll_wait) per read. need_more is no error.
  beast::error_code parse_buffered() {
    beast::error_code ec;
    bool head = !parser_->is_header_done();
    while (!(head ? parser_->is_header_done() : parser_->is_done()) && buffer_.size() > 0) {
      auto used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) ec = {};
      if (ec || used == 0) break;
    }
    return ec;
  }

  void read_body() {
    if (auto ec = parse_buffered(); ec || parser_->is_done()) return on_read(ec, 0);
    arm(server_.limits.header_timeout);
    http::async_read(
        socket_, buffer_, *parser_,
        exactly_sized(beast::bind_front_handler(&http_session::on_read, shared_from_this())));
  }

  void on_read(beast::error_code ec, std::size_t) {
    // The body is in the message now, then in the request, and gone once handled.
    // Taken now: a reply sent inside handle() may read (and charge) the next request.
    struct give_back {
      http_session& s;
      std::size_t bytes;
      ~give_back() { s.server_.give_body(bytes); }
    } charge{*this, std::exchange(body_charge_, 0)};
    if (closed_) return;  // timed out as the read completed (on_header)
    // Happens when the client closes a keep-alive connection between requests.
    if (ec == http::error::end_of_stream || ec == asio::error::eof) {
      peer_closed_ = true;
      return graceful_close();
    }
    if (ec == asio::error::operation_aborted) return hard_close();  // closed, or timed out
    if (ec == http::error::body_limit)
      return refuse(413, "Request body exceeds the limit of " +
                             std::to_string(server_.limits.max_body_bytes) + " bytes");
    if (ec == http::error::header_limit) return refuse(431, "Request headers are too large");
    if (ec) {
      if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
        return hard_close();
      return refuse(400, "Malformed HTTP request: " + ec.message());
    }
    disarm();
    auto msg = parser_->release();
    // Nothing of the connection's reading is needed until the next request: a long
    // response (a stream) holds neither the parser nor an empty read buffer.
    parser_.reset();
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    keep_alive_ = msg.keep_alive();

    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.peer = peer_;

    if (ws::is_upgrade(msg)) {
      auto decision = server_.svc->upgrade(req);
      if (!decision.accept) return refuse(decision.status, decision.detail);
      auto session = std::make_shared<ws_session>(server_, std::move(socket_), peer_);
      // The ws_session now owns the socket; this session ends here.
      server_.connections.fetch_add(1, std::memory_order_relaxed);  // the ws_session's own
      session->run(std::move(msg), std::move(decision));
      return;
    }

    req.body = std::move(msg.body());
    ++response_id_;
    handling_ = true;
    common_headers_.clear();
    started_ = streaming_ = finish_queued_ = abort_queued_ = response_done_ = false;
    watch();
    in_handle_ = true;
    server_.svc->handle(std::move(req), make_response());
    in_handle_ = false;
    maybe_open_gate();  // the head may go from the producer's thread
  }

  std::shared_ptr<response> make_response();

  // A read kept open while a response is produced: EOF or an error means the client left.
  // It waits for the socket to become readable and reads only then, so an open stream
  // holds no read buffer meanwhile (it was 4 KB of each stream's memory, bench/memory.sh).
  void watch() {
    if (watching_ || closed_ || buffer_.size() > 64 * 1024) return;
    watching_ = true;
    socket_.async_wait(tcp::socket::wait_read, exactly_sized(beast::bind_front_handler(
                                                   &http_session::on_watch, shared_from_this())));
  }
  void on_watch(beast::error_code ec) {
    watching_ = false;
    bool readable = !ec && !closed_;
    if (readable) {
      // The socket is non-blocking: this takes what is there (EOF is an error here).
      auto n = socket_.read_some(buffer_.prepare(4096), ec);
      if (!ec) {
        buffer_.commit(n);  // a pipelined request; kept for after this response
        keep_finish();
      }
      peer_closed_ = ec == asio::error::eof;
    }
    // The response ended from another thread (finish_now) before this: it ends here now,
    // and the next read (or the rest of the end's write) takes the socket over.
    if (adopt()) return;
    if (readable && (!ec || ec == asio::error::would_block || ec == asio::error::try_again)) {
      if (handling_) return watch();
      return do_read();  // the response completed while this read was in flight
    }
    // Happens when our own cancel ends the watch after a response completed.
    if (ec == asio::error::operation_aborted && !handling_ && !closed_) return do_read();
    // The client went away.
    hard_close();
  }

  void pump() {
    if (writing_ || closed_ || response_done_) return;
    {  // what a direct write left unsent goes before anything queued since
      std::lock_guard<std::mutex> lock(gate_.m);
      if (!gate_.tail.empty()) {
        raw_ += gate_.tail;
        gate_.tail.clear();
      }
    }
    if (raw_.empty() && pending_.empty() && !finish_queued_) {
      if (abort_queued_) return hard_close();
      run_drained();
      return maybe_open_gate();
    }
    // The last chunk went out directly (adopt): what it left, then the response is complete.
    if (last_written_ && raw_.empty()) return response_complete();
    // Everything queued goes out as one chunk (and the last chunk with it when finishing),
    // after what a direct write could not send (already framed).
    inflight_.swap(pending_);
    pending_.clear();
    // A member: async_write reads the sequence again after each partial write, so it
    // must outlive this call (a local array here corrupted writes too big for one send).
    auto& bufs = out_bufs_;
    std::size_t n = 0;
    if (!raw_.empty()) bufs[n++] = asio::buffer(raw_);
    if (!inflight_.empty()) {
      char hex[20];
      chunk_head_.assign(hex, chunk_head(hex, inflight_.size()));
      inflight_ += "\r\n";
      bufs[n++] = asio::buffer(chunk_head_);
      bufs[n++] = asio::buffer(inflight_);
    }
    if (finish_queued_ && !last_written_) {
      bufs[n++] = asio::buffer("0\r\n\r\n", 5);
      last_written_ = true;
    }
    // Most chunks fit the socket's send buffer: a non-blocking send here finishes them
    // without an async operation and a completion handler, which were a good part of
    // the io thread's cost per delta (bench/RESULTS.md, relay benchmark). What does not
    // fit goes the async way, from where the send stopped.
    beast::error_code ec;
    auto& sock = socket_;
    if (!sock.non_blocking()) sock.non_blocking(true, ec);
    std::size_t sent = ec ? 0 : sock.write_some(std::span(bufs.data(), n), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again)
      return hard_close();  // the client went away
    std::size_t first = 0;
    while (first < n && sent >= bufs[first].size()) sent -= bufs[first++].size();
    if (first == n) {  // as on_written would: finish, or cut if asked to
      inflight_.clear();
      raw_.clear();
      if (last_written_) return response_complete();
      return pump();
    }
    bufs[first] += sent;
    writing_ = true;
    asio::async_write(
        socket_, std::span(bufs.data() + first, n - first),
        exactly_sized(beast::bind_front_handler(&http_session::on_written, shared_from_this())));
  }

  void on_written(beast::error_code ec, std::size_t) {
    writing_ = false;
    inflight_.clear();
    raw_.clear();
    // Happens when the client went away mid-write.
    if (ec) return hard_close();
    if (last_written_) return response_complete();
    pump();
  }

  void on_full_written(beast::error_code ec, std::size_t) {
    writing_ = false;
    full_.reset();
    if (ec) return hard_close();
    response_complete();
  }

  void response_complete() {
    {  // what the gate did for this response is over with it
      std::lock_guard<std::mutex> lock(gate_.m);
      gate_.phase = gate_phase::shut;
      gate_.started = gate_.finished = false;
    }
    handling_ = false;
    response_done_ = true;
    cancel_timers();
    take_disconnect();
    last_written_ = false;
    drained_.clear();
    // A client that closed after the end (it had all) is not read from again.
    if (!keep_alive_ || peer_closed_) return graceful_close();
    if (watching_) {
      // on_watch sees operation_aborted and reads the next request.
      beast::error_code ec;
      socket_.cancel(ec);
      return;
    }
    // A reply sent inside the service's handle(): the next request is read from a posted
    // handler, as reading it here (it may be parsed and handled inline, do_read) would
    // nest each of a client's pipelined requests a level deeper in the stack.
    if (in_handle_)
      return asio::post(socket_.get_executor(), exactly_sized(beast::bind_front_handler(
                                                    &http_session::do_read, shared_from_this())));
    do_read();
  }

  void refuse(int status, const std::string& detail, header_list extra = {}) {
    keep_alive_ = false;
    ++response_id_;
    handling_ = true;
    common_headers_.clear();
    started_ = streaming_ = false;
    do_send(response_id_, status, "application/json", detail_json(detail), std::move(extra));
  }

  void graceful_close() {
    if (closed_) return;
    closed_ = true;
    close_gate();
    cancel_timers();
    drained_.clear();
    disarm();
    beast::error_code ec;
    // The close sends the FIN as well when the client already sent its own.
    if (!peer_closed_) socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  void hard_close() {
    if (closed_) return;
    closed_ = true;
    close_gate();
    cancel_timers();
    drained_.clear();
    disarm();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    // Posted: a close found by a write may be inside a producer's call (a stream hub
    // catching a watcher up holds its lock), and the service's callback takes locks.
    if (auto told = take_disconnect(); told && !response_done_)
      asio::post(socket_.get_executor(), std::move(told));
  }

  http_server::impl& server_;
  // A plain socket: the request limits are the server's sweep's (connection::arm).
  socket_type socket_;
  std::string peer_;
  std::uint64_t id_ = 0;
  beast::flat_buffer buffer_;
  // Each only while it is used (the parser while a request is read, the others until
  // their message is written), so a connection holding a stream keeps none of them.
  std::unique_ptr<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<http::response<http::empty_body>> continue_;
  bool first_request_ = true;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool watching_ = false;
  bool in_handle_ = false;    // the service's handle() is running (response_complete)
  bool peer_closed_ = false;  // the client's EOF came (it sends no more)

  // the response in progress
  std::uint64_t response_id_ = 0;
  bool handling_ = false;
  header_list common_headers_;                  // add_headers(): on every reply to this request
  std::vector<std::function<void()>> drained_;  // when_drained waiters
  std::size_t body_charge_ = 0;                 // of the body budget, by the body being read
  std::array<asio::const_buffer, 4> out_bufs_;  // the chunk being written (see pump)
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;  // pending after() calls
  bool started_ = false;
  bool streaming_ = false;
  bool finish_queued_ = false;
  bool abort_queued_ = false;
  bool last_written_ = false;
  bool writing_ = false;
  bool response_done_ = false;
  std::unique_ptr<http::response<http::string_body>> full_;
  std::string pending_;
  std::string inflight_;
  std::string raw_;  // framed bytes (a head; what a direct write left unsent): they go first
  enum class gate_phase : std::uint8_t { shut, head, body };
  struct {
    std::mutex m;
    gate_phase phase = gate_phase::shut;  // head: may start; body: may write and finish
    int posted = 0;                       // response operations on their way to the strand
    std::uint64_t id = 0;
    int fd = -1;
    bool may_finish = false;  // see finish_now
    bool started = false;     // the gate sent the head: not yet taken over (adopt)
    bool finished = false;    // the gate sent the last chunk: not yet taken over
    std::function<void()> disconnect;  // on_disconnect's callback (take_disconnect)
    std::string tail;         // what a direct send could not send
  } gate_;
  std::string chunk_head_;
};

class session_response : public response {
 public:
  session_response(std::shared_ptr<http_session> s, std::uint64_t id) : s_(std::move(s)), id_(id) {}

  void add_headers(header_list headers) override {
    run([h = std::move(headers)](http_session& s, std::uint64_t id) mutable {
      s.do_add_headers(id, std::move(h));
    });
  }
  void send(int status, std::string_view content_type, std::string body,
            header_list extra) override {
    run([status, ct = std::string(content_type), b = std::move(body), e = std::move(extra)](
            http_session& s, std::uint64_t id) mutable {
      s.do_send(id, status, std::move(ct), std::move(b), std::move(e));
    });
  }
  void start(int status, header_list headers, std::string_view first) override {
    if (s_->start_now(id_, status, headers, first)) return;
    run([status, h = std::move(headers), f = std::string(first)](http_session& s,
                                                                 std::uint64_t id) mutable {
      s.do_start(id, status, std::move(h), std::move(f));
    });
  }
  void write(std::string_view chunk) override {
    if (s_->write_now(id_, chunk)) return;
    run([c = std::string(chunk)](http_session& s, std::uint64_t id) mutable {
      s.do_write(id, std::move(c));
    });
  }
  void finish() override {
    if (s_->finish_now(id_)) return;
    run([](http_session& s, std::uint64_t id) { s.do_finish(id); });
  }
  void abort() override {
    run([](http_session& s, std::uint64_t id) { s.do_abort(id); });
  }
  void on_disconnect(std::function<void()> fn) override {
    run([f = std::move(fn)](http_session& s, std::uint64_t id) mutable {
      s.do_on_disconnect(id, std::move(f));
    });
  }
  void when_drained(std::function<void()> fn) override {
    run([f = std::move(fn)](http_session& s, std::uint64_t id) mutable {
      s.do_when_drained(id, std::move(f));
    });
  }
  void after(std::chrono::microseconds delay, std::function<void()> fn) override {
    run([delay, f = std::move(fn)](http_session& s, std::uint64_t id) mutable {
      s.do_after(id, delay, std::move(f));
    });
  }

 private:
  template <class F>
  void run(F&& f) {
    s_->op_posted();
    asio::dispatch(s_->executor(), [s = s_, id = id_, f = std::forward<F>(f)]() mutable {
      s->op_begins();
      f(*s, id);
      s->op_ran();
    });
  }
  std::shared_ptr<http_session> s_;
  std::uint64_t id_;
};

std::shared_ptr<response> http_session::make_response() {
  return std::make_shared<session_response>(shared_from_this(), response_id_);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Listener

void http_server::impl::schedule_sweep() {
  sweep_timer.expires_after(sweep_every);
  sweep_timer.async_wait([this](beast::error_code ec) {
    if (ec || sweep_stopped) return;  // stop() cancelled it
    sweep();
    schedule_sweep();
  });
}

void http_server::impl::sweep() {
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::vector<std::shared_ptr<connection>> late;
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    for (auto& [id, e] : live) {
      auto due = e.raw->due();
      if (!due || due > now) continue;
      if (auto c = e.weak.lock()) late.push_back(std::move(c));
    }
  }
  for (auto& c : late) c->time_out();
  // `late` goes here, outside the lock: a last reference's destructor leaves the table.
}

void http_server::impl::do_accept() {
  acceptor.async_accept(
      asio::make_strand(ioc), peer,
      [this](beast::error_code ec, socket_type socket) { on_accept(ec, std::move(socket)); });
}

void http_server::impl::on_accept(beast::error_code ec, socket_type socket) {
  if (!accepting) return;
  if (!ec) {
    // TCP_NODELAY came from the listening socket (listen): Linux copies it to each
    // connection accepted there, one setsockopt fewer per connection.
    // Set once here: asio would set it again for its first async operation, and the
    // direct writes need it too (one ioctl per connection instead of two).
    socket.non_blocking(true, ec);
    auto n = connections.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n > limits.max_connections) {
      connections.fetch_sub(1, std::memory_order_relaxed);
      // Refuse in one write and close: no session, no parser, no waiting.
      auto body = detail_json("Too many connections (limit " +
                              std::to_string(limits.max_connections) + ")");
      auto text = std::make_shared<std::string>(
          "HTTP/1.1 429 Too Many Requests\r\nServer: askd\r\nRetry-After: 1\r\n"
          "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
      auto sock = std::make_shared<socket_type>(std::move(socket));
      asio::async_write(*sock, asio::buffer(*text),
                        exactly_sized([sock, text](beast::error_code, std::size_t) {
                          beast::error_code ignored;
                          sock->shutdown(tcp::socket::shutdown_both, ignored);
                          sock->close(ignored);
                        }));
    } else {
      auto session = std::make_shared<http_session>(
          *this, std::move(socket), peer.address().to_string() + ":" + std::to_string(peer.port()));
      // The next accept first: this connection's request may be read and handled inline.
      do_accept();
      return session->run();
    }
  } else if (ec == asio::error::operation_aborted) {
    return;
  } else {
    // Out of file descriptors, say: log, and keep accepting.
    core::log_warn("accept failed").kv("error", ec.message());
  }
  do_accept();
}

http_server::http_server(std::shared_ptr<service> svc, server_limits limits, int io_threads)
    : impl_(std::make_unique<impl>(std::move(svc), limits, std::max(1, io_threads))) {
  // A connection is closed within a quarter of its limit after it passes (at most a
  // second late): the limits are against clients that hold connections for good, not
  // deadlines to the millisecond.
  auto shortest =
      std::min({limits.header_timeout, limits.idle_timeout, limits.ws_idle_timeout / 2});
  impl_->sweep_every =
      std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
}

http_server::~http_server() {
  stop();
  if (!impl_) return;
  // Handlers posted after the io threads stopped (by producers that outlived them) are
  // run here, while the sessions they hold can still leave the server's table; a
  // stopped io_context would destroy them after the table.
  impl_->ioc.restart();
  impl_->ioc.poll();
}

std::uint16_t http_server::listen(const std::string& host, std::uint16_t port) {
  auto& a = impl_->acceptor;
  tcp::endpoint ep(asio::ip::make_address(host), port);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.set_option(tcp::no_delay(true));  // inherited by every accepted connection (on_accept)
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
  impl_->accepting = true;
  impl_->do_accept();
  return a.local_endpoint().port();
}

void http_server::run() {
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->schedule_sweep();
  for (int i = 0; i < impl_->threads; ++i)
    impl_->pool.emplace_back([this] {
      pthread_setname_np(pthread_self(), "askd.io");  // in top -H, perf and /proc
      impl_->ioc.run();
    });
}

void http_server::stop_accepting() {
  if (!impl_->accepting.exchange(false)) return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
}

void http_server::stop() {
  if (!impl_) return;
  stop_accepting();
  std::vector<std::shared_ptr<connection>> open;
  {
    std::lock_guard<std::mutex> lock(impl_->live_mutex);
    for (auto& [id, e] : impl_->live)
      if (auto c = e.weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->shutdown_now();
  open.clear();
  asio::post(impl_->sweep_timer.get_executor(), [this] {
    impl_->sweep_stopped = true;
    impl_->sweep_timer.cancel();
  });
  impl_->work.reset();
  if (!impl_->pool.empty()) {
    // Give the closes a moment to run their handlers, then stop whatever is left.
    for (int i = 0; i < 200 && impl_->connections.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    impl_->ioc.stop();
    for (auto& t : impl_->pool) t.join();
    impl_->pool.clear();
  }
}

std::size_t http_server::connections() const {
  return impl_->connections.load();
}

}  // namespace askd::net
