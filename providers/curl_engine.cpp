#include "providers/curl_engine.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "core/log.hpp"

namespace askd::providers {

class curl_engine::shard {
 public:
  shard(std::size_t idle_connections, std::string cafile);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;
  void start(transfer_id id, upstream_request request, std::shared_ptr<transfer_listener> listener);
  void cancel(transfer_id id);
  std::size_t active() const { return active_.load(std::memory_order_relaxed); }
  std::uint64_t opened() const { return opened_.load(std::memory_order_relaxed); }

 private:
  struct transfer;
  using transfer_table = std::unordered_map<transfer_id, std::unique_ptr<transfer>>;
  struct command {
    transfer_id id;
    std::unique_ptr<transfer> start;  // null for a cancel
  };

  void run();
  // libcurl's timeout call, if it is due (its timer callback may set the next one
  // meanwhile). True: it was made.
  bool run_due_timer();
  void wake();
  void add(transfer_id id, std::unique_ptr<transfer> t);
  void remove(transfer_id id);
  void collect_finished();
  // Easy handles are reused: curl_easy_init and curl_easy_cleanup were most of a call's
  // setup. A finished handle is reset (its options and per-transfer state dropped) and
  // kept if it can take the receive buffer size again.
  CURL* take_handle();
  // A transfer over: off the multi handle, its handle back, out of the table (and the
  // connection cache's cap set again), no longer active.
  void end(transfer_table::iterator it);
  // libcurl's connection cache holds at most four connections per transfer in flight
  // (CURLMOPT_MAXCONNECTS unset): as a burst of calls ends, each of the last quarter to
  // finish closes one, and the next burst opens them again. With `keep_idle_` set, the
  // cap is never below it; set at each add and end, as libcurl reads it when a transfer
  // gives its connection back.
  void size_connection_cache();

  static int on_socket(void* easy, int fd, int what, void* self, void* socket_data);
  static int on_timer(void* multi, long timeout_ms, void* self);
  static curl_socket_t on_open(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int on_close(void* self, curl_socket_t fd);

  // What the epoll set holds for a socket of libcurl's, by fd. A connection's socket that
  // goes back to libcurl's cache stays in the set, readable only, and is *parked*: its
  // next transfer (the usual case: one upstream host, kept alive) needs no epoll_ctl to
  // start, nor did the last one to end (two syscalls of each stream; bench/RESULTS.md,
  // eighth pass). Parking is for sockets libcurl opened through on_open only, whose close
  // comes through on_close: so the entry of an fd number is never stale when libcurl
  // hands out a new socket (the resolver's socketpair does not come this way: it is never
  // parked, and is registered afresh whenever libcurl meets it anew). A parked socket that
  // becomes readable (the server closed it, idle) leaves the set then; libcurl finds it
  // dead when it next looks.
  struct watched {
    std::uint32_t events = 0;  // registered: EPOLLIN, EPOLLOUT or both; 0: not in the set
    bool ours = false;         // opened through on_open, so closed through on_close
    bool parked = false;       // in the set, but libcurl has removed it (in its cache)
  };
  watched& watched_of(int fd) {
    if (static_cast<std::size_t>(fd) >= watched_.size())
      watched_.resize(static_cast<std::size_t>(fd) + 1);
    return watched_[static_cast<std::size_t>(fd)];
  }
  void unwatch(int fd) {
    auto& w = watched_of(fd);
    if (w.events) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    w = watched{};
  }

  void* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  using clock = std::chrono::steady_clock;
  clock::time_point deadline_ = clock::time_point::max();  // when curl wants its timeout call
  std::thread thread_;
  std::mutex mutex_;
  std::vector<command> commands_;
  bool stopping_ = false;
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> opened_{0};  // sockets opened through on_open
  std::size_t keep_idle_ = 0;             // upstream.idle_connections
  std::string cafile_;                    // upstream.cafile: "" for the system's bundle
  transfer_table transfers_;              // its thread only
  std::vector<CURL*> idle_;                                               // its thread only
  std::vector<watched> watched_;                                          // its thread only
  static constexpr std::size_t max_idle = 32;
};

struct curl_engine::shard::transfer {
  transfer_id id = 0;
  CURL* easy = nullptr;  // the shard's: back to its idle handles when the transfer ends
  upstream_request request;
  std::shared_ptr<transfer_listener> listener;
  std::string retry_after;
  bool headers_reported = false;
  char error_text[CURL_ERROR_SIZE] = {0};

  // A response has begun: once libcurl has sent the whole body it never reads it again
  // (no redirects are followed, no 100-continue is asked for), so an open stream stops
  // holding its prompt.
  void response_began() {
    if (request.body.empty()) return;
    curl_off_t sent = 0;
    if (curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK &&
        sent == static_cast<curl_off_t>(request.body.size()))
      std::string().swap(request.body);
  }

  void report_headers() {
    if (headers_reported) return;
    headers_reported = true;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    listener->on_headers(status, std::move(retry_after));
  }
};

namespace {

// Each transfer's receive buffer (CURLOPT_BUFFERSIZE; libcurl's default is 16 KB, one per
// easy handle, for the whole transfer): the largest single piece of memory per open
// stream (bench/memory.sh). An upstream's events are a few hundred bytes and arrive one
// flush at a time, so 2 KB holds most in one read; a longer event is split over reads,
// which every decoder takes in any split. A fast burst costs a few more reads. 1 KB is
// libcurl's least (CURL_MIN_BUFFERSIZE).
constexpr long receive_buffer_bytes = 1024;

bool iequals_prefix(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return s;
}

// Whether libcurl's default CA bundle (a file) is there to read. Debian builds libcurl
// with that bundle and a CA directory both; libcurl 7.88 keeps the bundle's parsed
// certificates in the multi handle (CURLOPT_CA_CACHE_TIMEOUT, a day) only when no CA
// directory is set, so with both, every new TLS connection parsed the whole bundle again:
// ~27 ms of the curl thread each (bench/RESULTS.md, eleventh pass). With the bundle there,
// the directory is dropped (update-ca-certificates keeps the two in step); without it the
// directory is all there is, and it stays.
bool ca_bundle_readable() {
#if LIBCURL_VERSION_NUM >= 0x075400  // CURLINFO_CAINFO: 7.84
  static const bool readable = [] {
    CURL* e = curl_easy_init();
    char* bundle = nullptr;
    bool ok = e && curl_easy_getinfo(e, CURLINFO_CAINFO, &bundle) == CURLE_OK && bundle &&
              ::access(bundle, R_OK) == 0;
    if (e) curl_easy_cleanup(e);
    return ok;
  }();
  return readable;
#else
  return false;
#endif
}

// A transport failure as a supervisor's error class.
core::error transport_error(CURLcode code, const char* detail, const std::string& url) {
  // Name the host only: a URL may carry a query we do not want in logs.
  std::string host = url;
  if (auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
  if (auto p = host.find('/'); p != std::string::npos) host = host.substr(0, p);
  std::string what = (detail && *detail) ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return core::error::make(core::error_code::timeout,
                               "upstream " + host + " timed out: " + what);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return core::error::make(core::error_code::upstream,
                               "cannot connect to upstream " + host + ": " + what);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return core::error{core::error_code::upstream, "bad upstream URL for " + host + ": " + what,
                         false};
    // A certificate askd does not trust (or a CA bundle it cannot read) is no passing
    // fault: trying again only delays the error (or the fallback provider).
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return core::error{core::error_code::upstream,
                         "upstream " + host + "'s certificate is not trusted: " + what, false};
    default:
      return core::error::make(core::error_code::upstream, "upstream " + host + " failed: " + what);
  }
}

}  // namespace

header_list::header_list(std::vector<std::string> lines) : lines_(std::move(lines)) {
  curl_slist* list = nullptr;
  for (const auto& h : lines_) list = curl_slist_append(list, h.c_str());
  list_ = curl_slist_append(list, "Expect:");
}

header_list::~header_list() {
  curl_slist_free_all(static_cast<curl_slist*>(list_));
}

curl_engine::curl_engine(unsigned threads, std::size_t idle_connections, std::string cafile) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  threads = std::clamp(threads, 1u, 256u);
  for (unsigned i = 0; i < threads; ++i)
    shards_.push_back(std::make_unique<shard>(idle_connections, cafile));
}

curl_engine::~curl_engine() = default;

curl_engine::transfer_id curl_engine::start(upstream_request request,
                                            std::shared_ptr<transfer_listener> listener) {
  auto n = next_.fetch_add(1, std::memory_order_relaxed);
  auto index = n % shards_.size();
  auto id = ((n + 1) << 8) | index;
  shards_[index]->start(id, std::move(request), std::move(listener));
  return id;
}

void curl_engine::cancel(transfer_id id) {
  auto index = id & 0xff;
  if (index < shards_.size()) shards_[index]->cancel(id);
}

std::size_t curl_engine::active() const {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s->active();
  return n;
}

std::uint64_t curl_engine::sockets_opened() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->opened();
  return n;
}

curl_engine::shard::shard(std::size_t idle_connections, std::string cafile)
    : keep_idle_(idle_connections), cafile_(std::move(cafile)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("curl_engine: epoll/eventfd failed");
  // Edge-triggered and never read: every write to an eventfd wakes its waiters, so each
  // wake() after the loop last saw the eventfd reports it once more, and the loop spends
  // no read per wakeup. The counter only grows; 2^64 wakeups are not reached.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);

  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &shard::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &shard::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  thread_ = std::thread([this] { run(); });
}

curl_engine::shard::~shard() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  for (auto& [id, t] : transfers_) {
    curl_multi_remove_handle(multi_, t->easy);
    curl_easy_cleanup(t->easy);
  }
  transfers_.clear();
  for (auto* e : idle_) curl_easy_cleanup(e);
  curl_multi_cleanup(multi_);
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void curl_engine::shard::start(transfer_id id, upstream_request request,
                               std::shared_ptr<transfer_listener> listener) {
  auto t = std::make_unique<transfer>();
  t->id = id;
  t->request = std::move(request);
  t->listener = std::move(listener);
  active_.fetch_add(1, std::memory_order_relaxed);
  bool first;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = commands_.empty();
    commands_.push_back(command{id, std::move(t)});
  }
  // Commands already waiting have woken the thread, which takes them all at once.
  if (first) wake();
}

void curl_engine::shard::cancel(transfer_id id) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = commands_.empty();
    commands_.push_back(command{id, nullptr});
  }
  if (first) wake();
}

void curl_engine::shard::wake() {
  std::uint64_t one = 1;
  auto rc = ::write(wake_fd_, &one, sizeof one);
  (void)rc;  // EAGAIN only at a counter of 2^64 - 1
}

int curl_engine::shard::on_socket(void* /*easy*/, int fd, int what, void* self, void* socket_data) {
  auto* engine = static_cast<shard*>(self);
  auto& w = engine->watched_of(fd);
  if (what == CURL_POLL_REMOVE) {
    if (w.ours && w.events == EPOLLIN) {
      w.parked = true;
      return 0;
    }
    engine->unwatch(fd);
    return 0;
  }
  std::uint32_t want = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) want |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) want |= EPOLLOUT;
  // What the set holds for it is known when libcurl has seen it since it was registered
  // (its marker, below) or when it is one of ours, parked; otherwise (new to libcurl) it
  // is registered afresh, as before parking existed.
  bool known = socket_data != nullptr || (w.ours && w.parked);
  w.parked = false;
  if (!socket_data) curl_multi_assign(engine->multi_, fd, engine);  // any non-null marker
  if (known && w.events == want) return 0;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = fd;
  if (known && w.events) {
    if (::epoll_ctl(engine->epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
      ::epoll_ctl(engine->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  } else if (::epoll_ctl(engine->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST) {
    ::epoll_ctl(engine->epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  w.events = want;
  return 0;
}

curl_socket_t curl_engine::shard::on_open(void* self, curlsocktype /*purpose*/,
                                          curl_sockaddr* address) {
  int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  auto* engine = static_cast<shard*>(self);
  engine->opened_.fetch_add(1, std::memory_order_relaxed);
  auto& w = engine->watched_of(fd);
  w = watched{};  // a new socket: whatever this number was before is gone
  w.ours = true;
  return fd;
}

int curl_engine::shard::on_close(void* self, curl_socket_t fd) {
  auto* engine = static_cast<shard*>(self);
  engine->unwatch(fd);  // a parked socket's entry goes with it
  return ::close(fd);
}

int curl_engine::shard::on_timer(void* /*multi*/, long timeout_ms, void* self) {
  auto* engine = static_cast<shard*>(self);
  engine->deadline_ = timeout_ms < 0 ? clock::time_point::max()
                                     : clock::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

CURL* curl_engine::shard::take_handle() {
  if (idle_.empty()) return curl_easy_init();
  CURL* e = idle_.back();
  idle_.pop_back();
  return e;
}

void curl_engine::shard::end(transfer_table::iterator it) {
  auto& t = *it->second;
  curl_multi_remove_handle(multi_, t.easy);
  // Kept only if the receive buffer size can be set again: libcurl 7.88 frees a handle's
  // buffer only in its done step, which a call that fails early (an unsupported scheme, a
  // DNS failure) or an HTTP/2 stream on a shared connection skips; curl_easy_reset keeps
  // that buffer but puts the size back to 16 KB, and a size cannot be set while a buffer
  // exists. Such a handle would read 16 KB into a 1 KB buffer: it is not kept.
  bool keep = idle_.size() < max_idle;
  if (keep) {
    curl_easy_reset(t.easy);
    keep = curl_easy_setopt(t.easy, CURLOPT_BUFFERSIZE, receive_buffer_bytes) == CURLE_OK;
  }
  if (keep)
    idle_.push_back(t.easy);
  else
    curl_easy_cleanup(t.easy);
  t.easy = nullptr;
  transfers_.erase(it);
  size_connection_cache();
  active_.fetch_sub(1, std::memory_order_relaxed);
}

void curl_engine::shard::add(transfer_id id, std::unique_ptr<transfer> t) {
  CURL* e = take_handle();
  t->easy = e;
  auto& r = t->request;
  curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  // The CAs: a bundle file without a directory, so that libcurl parses it once per thread
  // (see ca_bundle_readable). An operator's own file replaces the system's.
  if (!cafile_.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, cafile_.c_str());
    curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
  } else if (ca_bundle_readable()) {
    curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
  }
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_text);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, receive_buffer_bytes);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &shard::on_open);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &shard::on_close);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  if (!r.body.empty() || r.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
  if (r.method != "POST" && r.method != "GET")
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  if (r.headers)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     static_cast<curl_slist*>(const_cast<void*>(r.headers->native())));

  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(
      e, CURLOPT_WRITEFUNCTION, +[](char* data, std::size_t size, std::size_t n, void* user) {
        auto* tr = static_cast<transfer*>(user);
        tr->report_headers();
        tr->listener->on_body(std::string_view(data, size * n));
        return size * n;
      });
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(
      e, CURLOPT_HEADERFUNCTION, +[](char* data, std::size_t size, std::size_t n, void* user) {
        auto* tr = static_cast<transfer*>(user);
        std::string_view line(data, size * n);
        if (line.rfind("HTTP/", 0) == 0) {
          tr->retry_after.clear();  // a new response (after 100 Continue, say)
          tr->response_began();
        } else if (iequals_prefix(line, "retry-after:")) {
          tr->retry_after = std::string(trim(line.substr(12)));
        }
        return size * n;
      });
  transfers_.emplace(id, std::move(t));
  size_connection_cache();
  curl_multi_add_handle(multi_, e);
}

void curl_engine::shard::size_connection_cache() {
  if (keep_idle_ == 0) return;
  auto cap = std::max(keep_idle_, 4 * transfers_.size());
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(cap));
}

void curl_engine::shard::remove(transfer_id id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;  // already finished
  end(it);
}

void curl_engine::shard::collect_finished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    CURLcode code = msg->data.result;
    transfer_result result;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &result.http_status);
    if (code != CURLE_OK) result.failure = transport_error(code, t->error_text, t->request.url);
    if (result.http_status > 0) t->report_headers();
    auto listener = t->listener;
    end(transfers_.find(t->id));
    listener->on_complete(std::move(result));
  }
}

bool curl_engine::shard::run_due_timer() {
  if (deadline_ > clock::now()) return false;  // not due, or none (max)
  deadline_ = clock::time_point::max();
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  return true;
}

void curl_engine::shard::run() {
  pthread_setname_np(pthread_self(), "askd.curl");  // in top -H, perf and /proc
  constexpr int max_events = 256;
  epoll_event events[max_events];
  int running = 0;
  for (;;) {
    std::vector<command> commands;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      commands.swap(commands_);
    }
    for (auto& c : commands) {
      if (c.start) {
        add(c.id, std::move(c.start));
      } else {
        remove(c.id);
      }
    }
    if (!commands.empty()) collect_finished();
    // A transfer just added wants its timeout call now: made before waiting, it sends the
    // request, and the wait that follows is for the answer (not a zero wait first).
    if (run_due_timer()) collect_finished();

    int wait_ms = 1000;
    if (deadline_ != clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long>(left, 0, 1000));
    }
    int n = ::epoll_wait(epoll_fd_, events, max_events, wait_ms);
    // curl's timer is checked on every pass, so a steady flow of socket events
    // cannot starve it (connect timeouts, resolver polls).
    run_due_timer();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) continue;  // the commands are taken at the top of the loop
      if (watched_of(fd).parked) {
        unwatch(fd);  // an idle connection in libcurl's cache the server closed (or wrote to)
        continue;
      }
      int mask = 0;
      if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, fd, mask, &running);
    }
    collect_finished();
  }
}

}  // namespace askd::providers
