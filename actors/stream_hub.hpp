// actors/stream_hub.hpp — the part of a stream that producers publish to, from any
// thread: it numbers each event, hands it to every attached port at once (on the
// publishing thread, under one lock), and keeps the last events for resuming. The
// stream actor (actors/stream.hpp) decides who is attached, when the stream is
// cancelled and how long it lingers; the hub only carries events. So a delta goes from
// the curl thread's decoder to the client's socket with no thread hop and no actor
// message (bench/RESULTS.md, relay benchmark). No CAF here.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "actors/engine.hpp"
#include "core/event.hpp"

namespace askd::actors {

class stream_hub {
 public:
  using clock = std::chrono::steady_clock;

  // `replay_bytes` 0: nothing is kept (compat streams cannot be resumed).
  explicit stream_hub(std::size_t replay_bytes = 0) : replay_bytes_(replay_bytes) {
    if (replay_bytes_) kept_.emplace();
  }

  // Numbers `event` and delivers it to every attached port. False, and dropped, once a
  // terminal event (done, error) has been published: that one ends the stream.
  bool publish(core::stream_event event);

  enum class attached {
    live,      // what was kept after `after` was replayed; the rest comes as it happens
    refused,   // the port got an error (seq 0): `after` is in the future, or was dropped
    finished,  // the stream had ended and the port had seen all of it: port->closed()
  };
  // Replays what is kept after `after` to `port`, then attaches it under `key` (the
  // sink's id): every later event goes to it until detach(key).
  attached attach(std::uint64_t key, std::shared_ptr<sink_port> port, std::uint64_t after);
  void detach(std::uint64_t key);

  bool ended() const;
  // The deltas published so far: how many bytes, and when the first one was.
  struct delta_stats {
    std::int64_t bytes = 0;
    std::optional<clock::time_point> first;
  };
  delta_stats deltas() const;

 private:
  void keep(const core::stream_event& event);

  struct outlet {
    std::uint64_t key;
    std::shared_ptr<sink_port> port;
  };
  mutable std::mutex mutex_;
  const std::size_t replay_bytes_;
  std::vector<outlet> outlets_;
  std::uint64_t seq_ = 0;
  bool ended_ = false;
  // Only for resumable streams: an empty std::deque costs ~600 bytes (ARCHITECTURE.md).
  std::optional<std::deque<std::shared_ptr<const core::stream_event>>> kept_;
  std::size_t kept_bytes_ = 0;
  std::uint64_t first_kept_ = 1;  // the sequence number of kept_.front()
  delta_stats deltas_;
};

}  // namespace askd::actors
