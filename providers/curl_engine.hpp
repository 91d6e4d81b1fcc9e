// providers/curl_engine.hpp — engine threads (`engine.curl_threads`) run
// every upstream HTTP call (providers, embedders), each on its own curl multi handle,
// driven by epoll and curl_multi_socket_action, so a wakeup costs O(ready sockets), not
// O(open calls). Callers get a listener's
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

// Request headers ("Name: value", and "Expect:" so no body waits for a 100 Continue),
// made into libcurl's list once: a provider's every request shares its one list.
class header_list {
 public:
  explicit header_list(std::vector<std::string> lines);
  ~header_list();
  header_list(const header_list&) = delete;
  header_list& operator=(const header_list&) = delete;

  const std::vector<std::string>& lines() const { return lines_; }
  auto begin() const { return lines_.begin(); }
  auto end() const { return lines_.end(); }
  const void* native() const { return list_; }  // a curl_slist*, which libcurl only reads

 private:
  std::vector<std::string> lines_;
  void* list_ = nullptr;
};

struct upstream_request {
  std::string url;
  std::shared_ptr<const header_list> headers;  // none: libcurl's own only
  std::string body;                            // POSTed when not empty
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
  // `threads` engine threads (at least 1, at most 256), each with its own curl multi
  // handle, epoll and thread: a transfer runs on one of them from start to end, new
  // transfers going to each in turn. One thread carries about 30k deltas a second
  // (bench/RESULTS.md, capacity model); more spread the streams over more cores.
  // `idle_connections` (`upstream.idle_connections`): the least cap on each thread's
  // connection cache, in use and idle, under libcurl's own four per call in flight, so a
  // burst's connections (for TLS, their handshakes) wait for the next burst. 0: libcurl's
  // cap alone.
  // `cafile` (`upstream.cafile`): a PEM file of the CAs whose certificates upstreams may
  // present, in place of the system's bundle; empty: the system's.
  explicit curl_engine(unsigned threads = 1, std::size_t idle_connections = 0,
                       std::string cafile = {});
  ~curl_engine();  // aborts every transfer (no callbacks) and joins the threads
  curl_engine(const curl_engine&) = delete;
  curl_engine& operator=(const curl_engine&) = delete;

  using transfer_id = std::uint64_t;

  // Starts a call; thread-safe.
  transfer_id start(upstream_request request, std::shared_ptr<transfer_listener> listener);
  // Removes the call's handle as soon as its engine thread wakes (microseconds): the
  // connection is closed and no more callbacks come. Thread-safe; unknown ids are ignored.
  void cancel(transfer_id id);

  // Calls in flight (for metrics and tests).
  std::size_t active() const;
  // Sockets opened to upstreams so far, all threads: connection attempts, made when a call
  // finds no connection to reuse (one per address tried, so a failed connect or a second
  // happy-eyeballs attempt counts too).
  std::uint64_t sockets_opened() const;
  std::size_t threads() const { return shards_.size(); }

 private:
  class shard;  // one thread, one multi handle
  std::vector<std::unique_ptr<shard>> shards_;
  // A transfer's id carries its shard in its low 8 bits.
  std::atomic<std::uint64_t> next_{0};
};

}  // namespace askd::providers
