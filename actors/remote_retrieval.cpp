#include "actors/remote_retrieval.hpp"

#include <algorithm>

#include "actors/cluster.hpp"
#include "core/log.hpp"

namespace askd::actors {

remote_search to_remote(const retrieval_query& q) {
  remote_search r;
  if (q.request) {
    r.repo_url = q.request->repo_url;
    r.type = q.request->type;
    r.excluded_dirs = q.request->excluded_dirs;
    r.excluded_files = q.request->excluded_files;
    r.included_dirs = q.request->included_dirs;
    r.included_files = q.request->included_files;
  }
  r.token = q.token;
  r.query = q.search.query;
  r.k = q.search.k;
  r.mode = q.search.mode;
  r.embedder = q.search.embedder;
  return r;
}

remote_chunks to_remote(retrieval_reply r) {
  remote_chunks out;
  out.chunks = std::move(r.chunks);
  if (r.failure) {
    out.failed = true;
    out.failure = std::move(*r.failure);
  }
  out.degraded = std::move(r.degraded);
  return out;
}

retrieval_reply from_remote(remote_chunks r) {
  retrieval_reply out;
  out.chunks = std::move(r.chunks);
  if (r.failed) out.failure = std::move(r.failure);
  out.degraded = std::move(r.degraded);
  return out;
}

namespace {

using clock = std::chrono::steady_clock;

// How long to wait before asking again after the owner's node was lost: the membership
// must first see the loss (the same down message reaches the cluster actor). Doubled on
// each further try, up to a second, should the owner keep failing.
std::chrono::milliseconds retry_pause(int attempts) {
  return std::chrono::milliseconds(std::min(1000, 50 << std::min(std::max(attempts - 1, 0), 5)));
}

struct retrieval_state {
  std::shared_ptr<engine_context> context;
  std::shared_ptr<cluster_peers> peers;
  repo_registry_actor registry;
  retrieval_query query;
  caf::typed_response_promise<retrieval_reply> promise;
  clock::time_point deadline;
  caf::actor_addr asked;  // the owner asked now
  std::string asked_node;
  int attempts = 0;
  static inline const char* name = "remote_retrieval";
};

using self_ptr = remote_retrieval_actor::stateful_pointer<retrieval_state>;

void deliver(self_ptr self, retrieval_reply r) {
  self->state.promise.deliver(std::move(r));
  self->quit();
}

void ask_owner(self_ptr self);

// The owner was lost (or could not be reached) before it answered: ask again, whoever
// owns the key by then, unless the request's time is up.
void retry(self_ptr self, const std::string& why) {
  auto& st = self->state;
  st.asked = {};
  auto pause = retry_pause(st.attempts);
  if (clock::now() + pause >= st.deadline)
    return deliver(
        self, retrieval_reply::failed(core::error::make(core::error_code::timeout,
                                                        "retrieval: no node could answer for the "
                                                        "repository in time (last: " +
                                                            why + ")")));
  core::log_info("retrieval retried")
      .kv("repo", st.query.source.key.substr(0, st.query.source.key.find('\n')))
      .kv("node", st.asked_node)
      .kv("why", why)
      .kv("attempt", st.attempts);
  self->delayed_send(self, pause, tick_atom::value);
}

void ask_owner(self_ptr self) {
  auto& st = self->state;
  ++st.attempts;
  const auto& view = *st.context->cluster;
  auto owner = view.owner_of(st.query.source.key);
  auto peer = owner == view.self() ? std::nullopt : st.peers->find(owner);
  if (!peer) {
    // This node owns the key now (or its owner has no connection yet): its own index.
    auto q = st.query;
    q.here = true;
    self->request(st.registry, caf::infinite, retrieve_atom::value, std::move(q))
        .then([=](retrieval_reply& r) { deliver(self, std::move(r)); },
              [=](caf::error& err) {
                deliver(self,
                        retrieval_reply::failed(core::error::make(
                            core::error_code::internal, "retrieval: " + caf::to_string(err))));
              });
    return;
  }
  st.asked = peer->address();
  st.asked_node = owner;
  self->monitor(*peer);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(st.deadline - clock::now());
  self->request(*peer, std::max(left, std::chrono::milliseconds(1)), retrieve_atom::value,
                to_remote(st.query), caf::actor_cast<caf::actor>(self))
      .then([=](remote_chunks& r) { deliver(self, from_remote(std::move(r))); },
            [=](caf::error& err) {
              if (err == caf::sec::request_timeout)
                return deliver(self, retrieval_reply::failed(core::error::make(
                                         core::error_code::timeout,
                                         "retrieval: node " + owner + " did not answer in time")));
              retry(self, caf::to_string(err));
            });
}

remote_retrieval_actor::behavior_type remote_retrieval(self_ptr self,
                                                       std::shared_ptr<engine_context> context,
                                                       std::shared_ptr<cluster_peers> peers,
                                                       repo_registry_actor registry) {
  auto& st = self->state;
  st.context = std::move(context);
  st.peers = std::move(peers);
  st.registry = std::move(registry);
  self->set_down_handler([=](caf::down_msg& msg) {
    // Only the owner asked now matters; an earlier one's loss was handled already.
    if (msg.source == self->state.asked) retry(self, "node lost: " + caf::to_string(msg.reason));
  });
  return {
      [=](retrieve_atom, retrieval_query& q) -> caf::result<retrieval_reply> {
        auto& st = self->state;
        st.query = std::move(q);
        st.deadline =
            clock::now() + std::chrono::milliseconds(st.context->config.limits.request_timeout_ms);
        st.promise = self->make_response_promise<retrieval_reply>();
        ask_owner(self);
        return st.promise;
      },
      [=](tick_atom) { ask_owner(self); },
      [=](progress_atom, const std::string& phase, std::int64_t done, std::int64_t total) {
        auto& st = self->state;
        if (st.query.search.on_progress) st.query.search.on_progress(phase, done, total);
      },
  };
}

}  // namespace

remote_retrieval_actor spawn_remote_retrieval(caf::local_actor& parent,
                                              std::shared_ptr<engine_context> context,
                                              std::shared_ptr<cluster_peers> peers,
                                              repo_registry_actor registry) {
  return parent.spawn(remote_retrieval, std::move(context), std::move(peers), std::move(registry));
}

}  // namespace askd::actors
