// net/v1_face.hpp — the v1 framing of a stream (PROTOCOL.md, "v1 face"): Server-Sent
// Events with `id:` (the stream's sequence number), `event:` and one JSON `data:` line,
// `retry:` first and a `: ping` comment after streams.ping_s of silence; or, over a
// WebSocket with subprotocol askd.v1, one JSON frame per event.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "actors/engine.hpp"
#include "net/http_server.hpp"

namespace askd::net {

// One event as SSE text.
std::string sse_event(const core::stream_event& event);

// An SSE response fed by a sink. Its status line goes out on the first event — or, for
// an attach (start_on_live), as soon as the stream says the replay is done — so that an
// error before `meta` can still be a refusal (JSON + status), and an attach to a stream
// with nothing left for the client can be 204 (which stops a browser's EventSource).
// How much a v1 port writes before it waits for its connection to drain (and catches up
// from the stream's kept events): `queue_bytes` is the connection's bound
// (server.write_queue_bytes), which pacing must stay under.
std::size_t pace_bytes(std::size_t queue_bytes);

// A v1 port's pacing, the same over SSE and WebSocket: the bytes written since its
// connection last drained, against pace_bytes. Written from the sink's thread, read by
// the hub's.
class write_pacer {
 public:
  explicit write_pacer(std::size_t queue_bytes) : pace_(pace_bytes(queue_bytes)) {}
  void wrote(std::size_t bytes) { unpaced_.fetch_add(bytes, std::memory_order_relaxed); }
  bool behind() const { return unpaced_.load(std::memory_order_relaxed) >= pace_; }
  // `resume` once `connection` has written all it was given, counting from zero again;
  // `owner` (which holds this pacer) is kept alive until then.
  template <class Connection>
  void pause(Connection& connection, std::shared_ptr<const void> owner,
             std::function<void()> resume) {
    connection.when_drained([this, owner = std::move(owner), resume = std::move(resume)] {
      unpaced_ = 0;
      resume();
    });
  }

 private:
  std::size_t pace_;
  std::atomic<std::size_t> unpaced_{0};
};

class sse_port : public actors::sink_port, public std::enable_shared_from_this<sse_port> {
 public:
  sse_port(std::shared_ptr<response> res, std::string request_id, int ping_s, bool start_on_live,
           std::size_t queue_bytes);
  void deliver(const core::stream_event& event) override;
  void live() override;
  void closed(const core::stream_event& last) override;
  bool behind() const override { return pacer_.behind(); }
  void pause(std::function<void()> resume) override {
    pacer_.pause(*res_, shared_from_this(), std::move(resume));
  }
  void lost(std::uint64_t dropped) override;
  void moved() override;
  // What to send when the stream is not there (engine::attach); set before attaching.
  void when_missing(std::function<void()> f) { on_missing_ = std::move(f); }
  void missing() override {
    finished_ = true;
    if (on_missing_) on_missing_();
  }

 private:
  void start();
  void write(std::string text);
  void count_write(std::size_t bytes);  // for the ping's clock and the pacer
  void schedule_ping();

  std::shared_ptr<response> res_;
  std::string request_id_;
  int ping_s_;
  bool start_on_live_;
  write_pacer pacer_;
  std::function<void()> on_missing_;
  bool started_ = false;  // deliver/live/closed come from the sink, one at a time
  std::atomic<bool> finished_{false};
  std::atomic<std::int64_t> last_write_ms_{0};
};

// A WebSocket (askd.v1) client's view of one stream: each event as
// {"type","stream_id","seq","data"} plus "id", the client's id for the chat.
class ws_v1_port : public actors::sink_port, public std::enable_shared_from_this<ws_v1_port> {
 public:
  ws_v1_port(std::shared_ptr<websocket> ws, std::string stream_id, std::string client_id,
             std::size_t queue_bytes)
      : ws_(std::move(ws)),
        stream_id_(std::move(stream_id)),
        client_id_(std::move(client_id)),
        pacer_(queue_bytes) {}
  void deliver(const core::stream_event& event) override;
  // A resume of an answer the client has seen to its end: its end again, to close on.
  void closed(const core::stream_event& last) override { deliver(last); }
  bool behind() const override { return pacer_.behind(); }
  void pause(std::function<void()> resume) override {
    pacer_.pause(*ws_, shared_from_this(), std::move(resume));
  }
  void lost(std::uint64_t dropped) override;
  void moved() override;
  // What to send when the stream is not there (engine::attach); set before attaching.
  void when_missing(std::function<void()> f) { on_missing_ = std::move(f); }
  void missing() override {
    over_ = true;
    if (on_missing_) on_missing_();
  }
  // The stream reached its end for this client (the handler forgets it).
  bool over() const { return over_; }

 private:
  std::shared_ptr<websocket> ws_;
  std::string stream_id_;
  std::string client_id_;
  write_pacer pacer_;
  std::function<void()> on_missing_;
  std::atomic<bool> over_{false};
};

// The JSON text of a WebSocket v1 frame.
std::string ws_v1_frame(std::string_view type, std::string_view stream_id, std::uint64_t seq,
                        std::string_view data, std::string_view client_id);

}  // namespace askd::net
