#include "actors/replication.hpp"

#include <algorithm>
#include <set>

#include "actors/cluster.hpp"
#include "actors/remote_stream.hpp"
#include "actors/stream_hub.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/log.hpp"

namespace askd::actors {

// ---- bounds of what peers send ---------------------------------------------------------

namespace {

constexpr std::size_t max_event_bytes = std::size_t{4} << 20;
constexpr std::size_t max_messages = 4096;

std::size_t event_bytes(const core::stream_event& e) {
  return sizeof(core::stream_event) + e.text.size() + e.data.size();
}

bool known_type(core::event_type t) {
  using core::event_type;
  switch (t) {
    case event_type::meta:
    case event_type::progress:
    case event_type::sources:
    case event_type::stage:
    case event_type::delta:
    case event_type::done:
    case event_type::error:
      return true;
  }
  return false;
}

}  // namespace

std::string events_problem(const std::vector<core::stream_event>& events, std::uint64_t after) {
  auto expect = after + 1;
  bool ended = false;
  for (const auto& e : events) {
    if (ended) return "an event after the stream's end";
    if (e.seq != expect)
      return "event " + std::to_string(e.seq) + " where " + std::to_string(expect) + " was due";
    if (!known_type(e.type)) return "an event of an unknown type";
    if (e.text.size() + e.data.size() > max_event_bytes) return "an event past its bound";
    ended = e.terminal();
    ++expect;
  }
  return {};
}

std::string replica_open_problem(const replica_open& r) {
  if (r.stream_id.size() > 128 || core::node_of_stream(r.stream_id).empty())
    return "a malformed stream id";
  if (r.owner.size() > 4096 || r.request_id.size() > 128 || r.previous.size() > 128)
    return "a field past its bound";
  const auto& q = r.request;
  if (auto why = core::repository_fields_problem(q); !why.empty()) return why;
  if (q.messages.empty() || q.messages.size() > max_messages) return "messages: out of bounds";
  std::size_t bytes = 0;
  for (const auto& m : q.messages) {
    if (m.role != "user" && m.role != "assistant" && m.role != "system")
      return "messages: an unknown role";
    bytes += m.content.size();
  }
  if (bytes > max_replica_stream_bytes || q.token.size() > 4096 || q.file_path.size() > 4096 ||
      q.provider.size() > 256 || q.model.size() > 256 || q.language.size() > 64 ||
      q.ref.size() > 256 || q.fallback.size() > 16 || q.retrieval.mode.size() > 16 ||
      q.retrieval.embedder.size() > 256 || q.max_rounds < 1 || q.max_rounds > 20 ||
      q.retrieval.top_k < 1 || q.retrieval.top_k > 200)
    return "a field past its bound";
  return events_problem(r.events, 0);
}

// ---- the replica's side ----------------------------------------------------------------

std::string replica_store::open(replica_open r, const std::string& owner_node,
                                clock::time_point now) {
  if (auto why = replica_open_problem(r); !why.empty()) return why;
  std::size_t bytes = 0;
  for (const auto& e : r.events) bytes += event_bytes(e);
  for (const auto& m : r.request.messages) bytes += m.content.size();
  if (auto it = entries_.find(r.stream_id); it != entries_.end()) {
    bytes_ -= it->second.bytes;
    entries_.erase(it);
  }
  if (bytes > max_replica_stream_bytes || bytes_ + bytes > max_replica_bytes)
    return "this node holds as much for others as it may (" +
           std::to_string(max_replica_bytes >> 20) + " MiB)";
  entry e;
  e.owner_node = owner_node;
  e.bytes = bytes;
  e.ended = !r.events.empty() && r.events.back().terminal();
  e.last = now;
  e.open = std::move(r);
  bytes_ += bytes;
  auto id = e.open.stream_id;
  entries_.emplace(std::move(id), std::move(e));
  return {};
}

std::optional<std::uint64_t> replica_store::append(const std::string& id,
                                                   const std::string& from_node,
                                                   std::vector<core::stream_event>& events,
                                                   clock::time_point now, std::string& why) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.owner_node != from_node) {
    why = "this node holds no copy of that stream for that node";
    return std::nullopt;
  }
  auto& e = it->second;
  auto& log = e.open.events;
  auto last = log.empty() ? 0 : log.back().seq;
  // A batch sent again (its answer was lost) is taken from where the copy ends.
  std::erase_if(events, [&](const core::stream_event& ev) { return ev.seq <= last; });
  if (why = events_problem(events, last); !why.empty()) return std::nullopt;
  if (e.ended && !events.empty()) {
    why = "an event after the stream's end";
    return std::nullopt;
  }
  std::size_t bytes = 0;
  for (const auto& ev : events) bytes += event_bytes(ev);
  if (e.bytes + bytes > max_replica_stream_bytes || bytes_ + bytes > max_replica_bytes) {
    why = "the copy would pass its bound";
    return std::nullopt;
  }
  e.bytes += bytes;
  bytes_ += bytes;
  e.last = now;
  for (auto& ev : events) {
    e.ended = e.ended || ev.terminal();
    log.push_back(std::move(ev));
  }
  return log.empty() ? 0 : log.back().seq;
}

std::vector<replica_open> replica_store::take_owned_by(const std::string& node) {
  std::vector<replica_open> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.owner_node != node) {
      ++it;
      continue;
    }
    bytes_ -= it->second.bytes;
    out.push_back(std::move(it->second.open));
    it = entries_.erase(it);
  }
  return out;
}

std::size_t replica_store::expire(clock::time_point now, clock::duration linger,
                                  clock::duration idle) {
  std::size_t n = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto& e = it->second;
    if (now - e.last <= (e.ended ? linger : idle)) {
      ++it;
      continue;
    }
    bytes_ -= e.bytes;
    it = entries_.erase(it);
    ++n;
  }
  return n;
}

// ---- reading a log for a takeover -----------------------------------------------------

takeover takeover_of(const std::vector<core::stream_event>& events) {
  takeover t;
  bool heading_next = false;  // the next delta is a research round's heading
  for (const auto& e : events) {
    using core::event_type;
    switch (e.type) {
      case event_type::stage: {
        rapidjson::Document doc;
        takeover::round r;
        if (core::json::try_parse(e.data, doc) && doc.IsObject()) {
          if (auto it = doc.FindMember("round"); it != doc.MemberEnd() && it->value.IsInt())
            r.number = it->value.GetInt();
          if (auto it = doc.FindMember("kind"); it != doc.MemberEnd() && it->value.IsString())
            r.kind = it->value.GetString();
        }
        t.rounds.push_back(std::move(r));
        t.text.clear();
        t.sources_sent = false;
        heading_next = true;
        break;
      }
      case event_type::sources: {
        t.sources_sent = true;
        if (t.rounds.empty()) break;
        rapidjson::Document doc;
        if (!core::json::try_parse(e.data, doc) || !doc.IsObject()) break;
        auto it = doc.FindMember("sources");
        if (it == doc.MemberEnd() || !it->value.IsArray()) break;
        auto& paths = t.rounds.back().paths;
        for (const auto& s : it->value.GetArray()) {
          if (!s.IsObject()) continue;
          auto p = s.FindMember("path");
          if (p == s.MemberEnd() || !p->value.IsString()) continue;
          std::string path = p->value.GetString();
          if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
        }
        break;
      }
      case event_type::delta:
        if (heading_next && !t.rounds.empty()) {
          // askd writes each round's heading as one delta, after "\n\n" past the first.
          auto& r = t.rounds.back();
          std::string_view h = e.text;
          if (h.starts_with("\n\n")) h.remove_prefix(2);
          r.text = std::string(h);
          r.heading_sent = true;
          heading_next = false;
          break;
        }
        t.text += e.text;
        if (!t.rounds.empty()) t.rounds.back().text += e.text;
        break;
      case event_type::done:
      case event_type::error:
        t.ended = true;
        break;
      default:
        break;
    }
  }
  return t;
}

std::string replica_choice(const core::cluster_view& view, const std::string& stream_id,
                           const std::vector<std::string>& exclude) {
  auto live = view.live();
  std::erase_if(live, [&](const core::weighted_node& n) {
    return n.first == view.self() ||
           std::find(exclude.begin(), exclude.end(), n.first) != exclude.end();
  });
  return core::rendezvous_owner(stream_id, live);
}

// ---- the owner's side ------------------------------------------------------------------

namespace {

using clock = std::chrono::steady_clock;
using flush_atom = caf::atom_constant<caf::atom("flush")>;

// Events the hub published and the replicator has not taken yet: filled under the hub's
// lock on the publishing thread, emptied by the replicator.
struct replication_queue {
  std::mutex mutex;
  std::vector<core::stream_event> events;
  std::vector<clock::time_point> published;  // when each of `events` was
  bool flush_sent = false;
  caf::actor replicator;
};

struct replicator_state {
  std::shared_ptr<engine_context> context;
  std::shared_ptr<cluster_peers> peers;
  std::shared_ptr<stream_hub> hub;
  std::shared_ptr<replication_queue> queue;
  stream_actor stream;
  std::function<void()> on_fence;
  replica_open open;                    // the stream and its request; events empty
  std::vector<core::stream_event> log;  // every event published, from seq 1
  std::vector<clock::time_point> published;  // when each event of the log was (for metrics)
  std::string replica;                  // "" while there is none
  cluster_actor handle;                 // the replica node's cluster actor
  std::uint64_t held = 0;               // the replica has every event up to here
  bool busy = false;                    // an open or a batch is in flight
  bool started = false;                 // a replica has held the stream
  std::vector<std::string> lost;        // replicas lost (a first one unanswered too)
  std::optional<clock::time_point> looking_since;
  bool over = false;
  static inline const char* name = "replicator";
};

using replicator_actor = caf::typed_actor<caf::reacts_to<flush_atom>, caf::reacts_to<tick_atom>>;
using self_ptr = replicator_actor::stateful_pointer<replicator_state>;

std::uint64_t last_seq(const replicator_state& st) {
  return st.log.empty() ? 0 : st.log.back().seq;
}

caf::timespan request_timeout(const replicator_state& st) {
  return std::chrono::milliseconds(st.context->config.cluster.timeout_ms);
}

void pick(self_ptr self);

// The stream may no longer be served here.
void fence(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.over) return;
  st.over = true;
  st.context->metrics.fenced++;
  core::log_warn("stream fenced").kv("stream", st.open.stream_id).kv("why", why);
  st.hub->fence();
  if (st.on_fence) st.on_fence();
  self->quit();
}

void held(self_ptr self, std::uint64_t seq) {
  auto& st = self->state;
  auto now = clock::now();
  auto& m = st.context->metrics;
  for (auto i = st.held; i < std::min<std::uint64_t>(seq, st.published.size()); ++i) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - st.published[i]).count();
    m.replica_commit_us[replica_commit_bucket(us)]++;
    m.replica_commit_sum_us += us;
  }
  st.held = std::max(st.held, seq);
  st.hub->commit(st.held);
  // The replica has the end: nothing more to send (it keeps its copy for the linger).
  if (!st.log.empty() && st.log.back().terminal() && st.held >= last_seq(st)) {
    st.over = true;
    self->quit();
  }
}

void send_more(self_ptr self) {
  auto& st = self->state;
  if (st.over || st.busy || st.replica.empty() || st.held >= last_seq(st)) return;
  std::vector<core::stream_event> batch;
  std::size_t bytes = 0;
  for (auto i = static_cast<std::size_t>(st.held); i < st.log.size(); ++i) {
    bytes += relay_cost(st.log[i]);  // what it costs on the wire, as a relay counts it
    batch.push_back(st.log[i]);
    if (bytes >= max_replica_batch_bytes) break;
  }
  auto& m = st.context->metrics;
  m.replica_batches++;
  m.replica_events += static_cast<std::int64_t>(batch.size());
  m.replica_bytes += static_cast<std::int64_t>(bytes);
  st.busy = true;
  auto node = st.replica;
  self->request(st.handle, request_timeout(st), replicate_atom::value, st.open.stream_id,
                std::move(batch))
      .then(
          [=](std::uint64_t seq) {
            if (self->state.replica != node) return;
            self->state.busy = false;
            held(self, seq);
            send_more(self);
          },
          [=](caf::error& err) {
            auto& st = self->state;
            if (st.replica != node) return;
            core::log_warn("replica lost")
                .kv("stream", st.open.stream_id)
                .kv("node", node)
                .kv("error", self->system().render(err));
            self->demonitor(st.handle.address());
            st.lost.push_back(node);
            st.replica.clear();
            st.busy = false;
            pick(self);
          });
}

// Opens the replica at `node` with the whole log.
void open_at(self_ptr self, const std::string& node, cluster_actor handle) {
  auto& st = self->state;
  st.busy = true;
  auto open = st.open;
  open.previous = st.lost.empty() ? std::string() : st.lost.back();
  open.events = st.log;
  self->request(handle, request_timeout(st), replica_atom::value, std::move(open))
      .then(
          [=](std::uint64_t seq) {
            auto& st = self->state;
            st.busy = false;
            if (st.over) return;
            if (!st.lost.empty()) {
              st.context->metrics.replicas_moved++;
              core::log_info("replica moved").kv("stream", st.open.stream_id).kv("node", node);
            }
            st.replica = node;
            st.handle = handle;
            st.started = true;
            st.looking_since.reset();
            self->monitor(handle);
            held(self, seq);
            send_more(self);
          },
          [=](caf::error& err) {
            auto& st = self->state;
            st.busy = false;
            if (st.over) return;
            core::log_warn("replica refused")
                .kv("stream", st.open.stream_id)
                .kv("node", node)
                .kv("error", self->system().render(err));
            // Not answered: it may hold a copy, so the stream counts as replicated from now
            // on (fenced, never run unguarded). When it was the stream's first replica, it
            // is the one node that may hold a copy, so it counts as a replica lost: the
            // next is opened naming it (`previous`: refused while it is still seen up),
            // with the whole of timeout_ms to be found, as after any loss (the wait for
            // this answer took the first search's; before, the next look was already late,
            // and a stream whose first replica died between taking its copy and answering
            // was fenced with a node left to take its place). After a loss, a second node
            // that may hold a copy could not be named too: the search's time runs out and
            // the stream is fenced, as before.
            // Refused (it still sees the lost replica up, or is full): asked again until
            // timeout_ms.
            if (err == caf::sec::request_timeout) {
              st.started = true;
              if (st.lost.empty()) {
                st.lost.push_back(node);
                st.looking_since.reset();
              }
            }
            self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value);
          });
}

// Looks for a replica: the first at the start, another after a loss.
void pick(self_ptr self) {
  auto& st = self->state;
  if (st.over || st.busy || !st.replica.empty()) return;
  const auto& view = *st.context->cluster;
  auto now = clock::now();
  if (!st.looking_since) st.looking_since = now;
  auto node = replica_choice(view, st.open.stream_id, st.lost);
  // Replacing a lost replica needs a majority: the lost one may be cut off with its own
  // majority and take the stream over.
  bool allowed = !st.started || view.quorum_now().majority();
  auto handle = node.empty() || !allowed ? std::nullopt : st.peers->find(node);
  auto waited = now - *st.looking_since;
  bool late = waited > std::chrono::milliseconds(st.context->config.cluster.timeout_ms);
  if (handle && !late) return open_at(self, node, *handle);
  if (!st.started && (node.empty() || late)) {
    // No node holds any of it: as on a single node.
    core::log_warn("stream not replicated").kv("stream", st.open.stream_id);
    st.over = true;
    st.hub->ungate();
    return self->quit();
  }
  if (late)
    return fence(self, "its replica was lost and no other node could take its place in time");
  self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value);
}

replicator_actor::behavior_type replicator(
    self_ptr self, std::shared_ptr<engine_context> context, std::shared_ptr<cluster_peers> peers,
    std::shared_ptr<stream_hub> hub, std::shared_ptr<replication_queue> queue, stream_actor stream,
    replica_open open, std::vector<core::stream_event> log, std::function<void()> on_fence) {
  auto& st = self->state;
  st.context = std::move(context);
  st.peers = std::move(peers);
  st.hub = std::move(hub);
  st.queue = std::move(queue);
  st.stream = std::move(stream);
  st.open = std::move(open);
  st.open.events.clear();
  st.log = std::move(log);
  // Events before replication began were out already: they add nothing.
  st.published.assign(st.log.size(), clock::now());
  st.on_fence = std::move(on_fence);
  self->monitor(st.stream);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source == st.stream.address()) {
      st.over = true;
      return self->quit();
    }
    if (st.replica.empty() || msg.source != st.handle.address()) return;
    core::log_warn("replica lost").kv("stream", st.open.stream_id).kv("node", st.replica);
    st.lost.push_back(st.replica);
    st.replica.clear();
    st.busy = false;  // a batch in flight there is answered by nobody: sent again
    pick(self);
  });
  pick(self);
  return {
      [=](flush_atom) {
        auto& st = self->state;
        std::vector<core::stream_event> events;
        std::vector<clock::time_point> published;
        {
          std::lock_guard lock(st.queue->mutex);
          events.swap(st.queue->events);
          published.swap(st.queue->published);
          st.queue->flush_sent = false;
        }
        for (auto& e : events) st.log.push_back(std::move(e));
        st.published.insert(st.published.end(), published.begin(), published.end());
        send_more(self);
      },
      [=](tick_atom) { pick(self); },
  };
}

}  // namespace

void start_replication(caf::actor_system& system, std::shared_ptr<engine_context> context,
                       std::shared_ptr<cluster_peers> peers, std::shared_ptr<stream_hub> hub,
                       stream_actor stream, replica_open open, std::vector<core::stream_event> log,
                       std::function<void()> on_fence) {
  auto queue = std::make_shared<replication_queue>();
  // Gated first: nothing published from here on reaches a client before the replica has it.
  hub->gate([queue](const core::stream_event& e) {
    auto now = clock::now();
    std::lock_guard lock(queue->mutex);
    queue->events.push_back(e);
    queue->published.push_back(now);
    if (queue->flush_sent || !queue->replicator) return;
    queue->flush_sent = true;
    caf::anon_send(queue->replicator, flush_atom::value);
  });
  auto actor =
      system.spawn(replicator, std::move(context), std::move(peers), hub, queue, std::move(stream),
                   std::move(open), std::move(log), std::move(on_fence));
  std::lock_guard lock(queue->mutex);
  queue->replicator = caf::actor_cast<caf::actor>(actor);
  if (!queue->events.empty() && !queue->flush_sent) {
    queue->flush_sent = true;
    caf::anon_send(queue->replicator, flush_atom::value);
  }
}

}  // namespace askd::actors
