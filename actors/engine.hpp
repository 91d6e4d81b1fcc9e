// actors/engine.hpp — the engine as net/ sees it: start a chat, get an attachment
// through which the connection reports that its client went away. CAF stays behind
// this header; net/ implements sink_port to receive a stream's events.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/context.hpp"
#include "core/chat_request.hpp"
#include "core/event.hpp"
#include "rag/repo_source.hpp"

namespace caf {
class actor_system;
class actor_system_config;
}  // namespace caf

namespace askd::actors {

// The connection side of a sink. deliver() is called on the thread that published the
// event (an actor's, or the curl thread for a delta), once per event in sequence order,
// under the stream hub's lock: it must not block, and must not call back into the
// engine (write to the connection, or post the write onto its strand).
class sink_port {
 public:
  virtual ~sink_port() = default;
  virtual void deliver(const core::stream_event& event) = 0;
  // There is no such stream for this client (engine::attach): nothing else comes.
  virtual void missing() {}
  // Everything kept for this client has been sent; what follows comes live.
  virtual void live() {}
  // Attached to a stream that had already ended, with nothing left to send this client:
  // no event will come. `last` is the stream's terminal event, which it has seen.
  virtual void closed(const core::stream_event& last) { (void)last; }

  // Pacing, for resumable streams (those that keep their events). After each event the
  // hub asks whether the port has written enough that it should wait for its connection
  // to drain; if so it stops delivering and calls pause() (under its lock). The port calls
  // `resume` (any thread, without the hub's lock) when its connection has drained: the
  // hub then delivers what the port missed from the events it keeps, as far as the port
  // takes them, and live events again once it has caught up. So a watcher that reads
  // slowly, or attaches with a long replay, holds about one batch of its own, not a copy
  // of the stream: every watcher reads the stream's one buffer.
  virtual bool behind() const { return false; }
  virtual void pause(std::function<void()> resume) { (void)resume; }
  // While paused it fell further behind than the stream keeps (streams.replay_bytes):
  // nothing more comes. `dropped` is the last event it can no longer get.
  virtual void lost(std::uint64_t dropped) { (void)dropped; }
  // The stream is no longer served through this port's node (its node was lost, or
  // failover moved it): the connection ends without the stream's end, as a network drop
  // would, so the client resumes from its last event through any node and reaches the
  // node that has the stream now. Nothing else comes.
  virtual void moved() {}
};

// How a chat's stream behaves when its clients leave (actors/stream.hpp).
enum class chat_kind {
  compat,      // no resuming: the last client leaving cancels the answer at once
  v1,          // resumable: kept running for streams.detach_grace_s without a client
  background,  // POST /v1/streams: runs to its end with or without clients
};

// A connection's hold on the stream it watches.
class attachment {
 public:
  attachment() = default;
  // The client went away: the sink detaches; a stream with no sink left is cancelled
  // (at once or after the grace, by its kind), and with it the provider call. Safe to
  // call more than once.
  void client_gone() const;
  explicit operator bool() const { return static_cast<bool>(state_); }
  // The stream's id ("" for compat streams).
  const std::string& stream_id() const;

  struct state;

 private:
  friend class engine;
  std::shared_ptr<state> state_;
};

class engine {
 public:
  // `workers` 0 = one CAF scheduler thread per core.
  explicit engine(std::shared_ptr<engine_context> context);
  ~engine();  // waits for every actor to finish
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Starts answering a validated request; every event goes to `port` (none for a
  // background chat). `source` is where locate_repo found the repository (checked before
  // calling). `owner` is the API key that started it ("" without auth): only it may
  // attach to or cancel the stream later. `stream_id` is made here when empty (v1 and
  // background chats get one; a caller that needs it before the first event passes one
  // from core::new_stream_id()).
  attachment start_chat(std::shared_ptr<const core::chat_request> request, rag::repo_source source,
                        std::string request_id, std::shared_ptr<sink_port> port,
                        chat_kind kind = chat_kind::compat, std::string owner = {},
                        std::string stream_id = {});

  // Attaches `port` to a running or lingering stream: every event after `after`, then
  // live. When there is no such stream for `owner` (unknown, expired, not theirs, or its
  // node is not in the cluster) port->missing() is called, at once (and the attachment
  // is empty) or later, when the stream's node says so.
  attachment attach(const std::string& stream_id, const std::string& owner, std::uint64_t after,
                    std::shared_ptr<sink_port> port);

  // Cancels a stream (its provider calls stop at once). `done` hears whether there was
  // such a stream for `owner`: at once, or from the stream's node (another thread).
  void cancel(const std::string& stream_id, const std::string& owner,
              std::function<void(bool found)> done);

  // A new stream id; in a cluster it names this node.
  std::string new_stream_id() const;
  // The cluster as this node sees it (one member when not clustered).
  const core::cluster_view& cluster() const { return *context_->cluster; }

  // Streams running or lingering (for /metrics).
  std::size_t streams() const;

  // The fast refusal: whether `provider`'s limiter (or the server's queue) is full now,
  // judged on the caller's thread from the published occupancy. Counted as a refusal of
  // that limiter. The limiter still decides for requests this lets through.
  std::optional<core::error> precheck(const std::string& provider);

  const engine_context& context() const { return *context_; }
  engine_metrics& metrics() { return context_->metrics; }

 private:
  void start_cluster();
  void stop_actors();
  // Takes over a stream whose node was lost, from this node's copy of it.
  void adopt(struct replica_open copy);
  std::shared_ptr<engine_context> context_;
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<struct engine_actors> actors_;
};

}  // namespace askd::actors
