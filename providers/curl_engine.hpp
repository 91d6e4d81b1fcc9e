// providers/curl_engine.hpp — one thread runs every upstream HTTP call (providers,
// embedders) on one curl multi handle, driven by epoll and curl_multi_socket_action,
// so a wakeup costs O(ready sockets), not O(open calls). Callers get a listener's
// callbacks on that thread; they must never block it (a provider call decodes there
// and hands each delta to its stream, whose ports write without blocking; the end of
// a transfer goes to the actor as a message).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace askd::providers {

struct upstream_request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POSTed when not empty
  std::string method = "POST";
  int connect_timeout_ms = 10000;
};

struct transfer_result {
  long http_status = 0;
  std::optional<core::error> failure;  // the transport failed (no response, or cut short)
};

// Receives one transfer's events, in order, on the engine thread.
class transfer_listener {
 public:
  virtual ~transfer_listener() = default;
  // The response's status and headers are complete; comes before any body.
  virtual void on_headers(long status, std::string retry_after) = 0;
  virtual void on_body(std::string_view bytes) = 0;
  // Last call; not made for a cancelled transfer.
  virtual void on_complete(transfer_result result) = 0;
};

class curl_engine {
 public:
  curl_engine();
  ~curl_engine();  // aborts every transfer (no callbacks) and joins the thread
  curl_engine(const curl_engine&) = delete;
  curl_engine& operator=(const curl_engine&) = delete;

  using transfer_id = std::uint64_t;

  // Starts a call; thread-safe.
  transfer_id start(upstream_request request, std::shared_ptr<transfer_listener> listener);
  // Removes the call's handle as soon as the engine thread wakes (microseconds): the
  // connection is closed and no more callbacks come. Thread-safe; unknown ids are ignored.
  void cancel(transfer_id id);

  // Calls in flight (for metrics and tests).
  std::size_t active() const { return active_.load(std::memory_order_relaxed); }

 private:
  struct transfer;
  struct command {
    transfer_id id;
    std::unique_ptr<transfer> start;  // null for a cancel
  };

  void run();
  void wake();
  void add(transfer_id id, std::unique_ptr<transfer> t);
  void remove(transfer_id id);
  void collect_finished();

  static int on_socket(void* easy, int fd, int what, void* self, void* socket_data);
  static int on_timer(void* multi, long timeout_ms, void* self);

  void* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  using clock = std::chrono::steady_clock;
  clock::time_point deadline_ = clock::time_point::max();  // when curl wants its timeout call
  std::thread thread_;
  std::mutex mutex_;
  std::vector<command> commands_;
  bool stopping_ = false;
  std::atomic<transfer_id> next_id_{1};
  std::atomic<std::size_t> active_{0};
  std::unordered_map<transfer_id, std::unique_ptr<transfer>> transfers_;  // engine thread only
};

}  // namespace askd::providers
