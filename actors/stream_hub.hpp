// actors/stream_hub.hpp — the part of a stream that producers publish to, from any
// thread: it numbers each event, hands it to every attached port at once (on the
// publishing thread, under one lock), and keeps the last events for resuming. The
// stream actor (actors/stream.hpp) decides who is attached, when the stream is
// cancelled and how long it lingers; the hub only carries events. So a delta goes from
// the curl thread's decoder to the client's socket with no thread hop and no actor
// message (bench/RESULTS.md, relay benchmark). No CAF here.
//
// A resumable hub's kept events are also what slow watchers read from: a port that is
// behind (sink_port::behind) is paused and later catches up from the kept events, at its
// connection's pace, so many watchers of one stream share one buffer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "actors/engine.hpp"
#include "core/event.hpp"

namespace askd::actors {

class stream_hub : public std::enable_shared_from_this<stream_hub> {
 public:
  using clock = std::chrono::steady_clock;

  // `replay_bytes` 0: nothing is kept (compat streams cannot be resumed).
  explicit stream_hub(std::size_t replay_bytes = 0) : replay_bytes_(replay_bytes) {
    if (replay_bytes_) kept_.emplace();
  }

  // Numbers `event` and delivers it to every attached port that is not paused. False,
  // and dropped, once a terminal event (done, error) has been published: that one ends
  // the stream.
  bool publish(core::stream_event event);

  enum class attached {
    live,      // what was kept after `after` was replayed (or is being, paced); the rest
               // comes as it happens
    refused,   // the port got an error (seq 0): `after` is in the future, or was dropped
    finished,  // the stream had ended: the port has seen all of it (port->closed() when
               // there was nothing new), or is catching up paced to the end
  };
  // Replays what is kept after `after` to `port` (as far as it takes it), then attaches
  // it under `key` (the sink's id): every later event goes to it until detach(key).
  attached attach(std::uint64_t key, std::shared_ptr<sink_port> port, std::uint64_t after);
  void detach(std::uint64_t key);
  // A paused port's connection drained: delivers what it missed (sink_port::pause).
  void resume(std::uint64_t key);

  bool ended() const;

  // Replication (actors/replication.hpp). From gate() on, each event published is handed
  // to `hook` (under the hub's lock, on the publishing thread: it must not block) and
  // reaches clients only when commit() says the replica has it: what any client has seen
  // is then always on the replica too. Kept events not yet committed are never dropped.
  void gate(std::function<void(const core::stream_event&)> hook);
  // No replica after all: everything published goes out, and later events at once.
  void ungate();
  // The replica holds every event up to `seq`: they go out.
  void commit(std::uint64_t seq);
  // This node may no longer serve the stream (its replica was lost and none could be
  // found, or another node took it over): every attached port and every later attach is
  // told it moved (port->moved()), and nothing more is published here.
  void fence();
  bool fenced() const;
  // The deltas published so far: how many bytes, and when the first one was.
  struct delta_stats {
    std::int64_t bytes = 0;
    std::optional<clock::time_point> first;
  };
  delta_stats deltas() const;
  // Ports attached (live or paused), for tests and metrics.
  std::size_t ports() const;
  // Provider calls started for the stream (by its supervisors, every round), for its log
  // line: however the request ends, failed or cut off by its deadline too.
  void count_attempt() { attempts_.fetch_add(1, std::memory_order_relaxed); }
  int attempts() const { return attempts_.load(std::memory_order_relaxed); }

 private:
  struct outlet {
    std::uint64_t key;
    std::shared_ptr<sink_port> port;
    std::uint64_t seen = 0;  // the last event it was given
    bool paused = false;
  };
  void keep(const core::stream_event& event);
  void trim();
  void release(std::uint64_t seq);  // committed up to seq: deliver it (with mutex_ held)
  // What clients may see: all that was published, or what the replica has (gated).
  std::uint64_t visible() const { return hook_ ? committed_ : seq_; }
  bool visible_end() const { return ended_ && visible() == seq_; }
  // Gives `o` the kept events after o.seen until it is behind; true when it has them all.
  bool catch_up(outlet& o);
  void pause(outlet& o);

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
  std::function<void(const core::stream_event&)> hook_;  // set: gated
  std::uint64_t committed_ = 0;
  bool fenced_ = false;
  std::atomic<int> attempts_{0};
};

}  // namespace askd::actors
