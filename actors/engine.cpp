#include "actors/engine.hpp"

#include <thread>

#include "actors/limiter.hpp"
#include "actors/messages.hpp"
#include "actors/repo_registry.hpp"
#include "actors/session.hpp"
#include "actors/sink.hpp"
#include "actors/stream.hpp"
#include "actors/timer.hpp"

namespace askd::actors {

// The engine's long-lived actors: held here, because an actor nobody holds is terminated.
struct engine_actors {
  std::shared_ptr<const engine_refs> refs;
  std::map<std::string, limiter_gauges*> gauges;  // by provider id, for precheck()
};

struct attachment::state {
  sink_actor sink;
};

void attachment::client_gone() const {
  if (state_) caf::anon_send(state_->sink, gone_atom::value);
}

engine::engine(std::shared_ptr<engine_context> context)
    : context_(std::move(context)), config_(std::make_unique<caf::actor_system_config>()) {
  auto workers = context_->config.engine.workers;
  if (workers <= 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  config_->set("scheduler.max-threads", static_cast<size_t>(workers));
  // CAF's default idle policy sleep-polls every 50 us for 25 ms before it blocks: with
  // streams pausing ~20 ms between tokens, workers never block and burn a core in
  // wakeups. Spin briefly, then block until work is enqueued.
  config_->set("work-stealing.moderate-poll-attempts", size_t{0});
  system_ = std::make_unique<caf::actor_system>(*config_);
  // CAF 0.17 keeps a reference to its logger in the constructing thread's thread-local
  // storage, and ~actor_system waits for the logger to die: destroyed from any other
  // thread (askd stops from its signal thread, tests from helpers), it would wait
  // forever. The reference is dropped at the end of this constructor; threads that
  // spawn later (io threads) release theirs when they exit.
  actors_ = std::make_shared<engine_actors>();
  auto refs = std::make_shared<engine_refs>();
  refs->timers = spawn_never(*system_);
  refs->registry =
      spawn_repo_registry(*system_, context_, &context_->limiters.emplace_back("indexing"));
  for (const auto& p : context_->config.generator.providers) {
    auto& gauges = context_->limiters.emplace_back("provider:" + p.id);
    actors_->gauges[p.id] = &gauges;
    refs->limiters[p.id] =
        spawn_limiter(*system_, context_, context_->config.limits.for_provider(p.id), &gauges);
  }
  actors_->refs = std::move(refs);
  caf::logger::set_current_actor_system(nullptr);  // last: spawning sets it again
}

engine::~engine() {
  // ~actor_system waits for every actor; connections are closed before we get here.
  context_->stopping = true;
  caf::anon_send_exit(actors_->refs->registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors_->refs->timers, caf::exit_reason::user_shutdown);
  for (const auto& [id, limiter] : actors_->refs->limiters)
    caf::anon_send_exit(limiter, caf::exit_reason::user_shutdown);
  actors_.reset();
  system_.reset();
}

std::optional<core::error> engine::precheck(const std::string& provider) {
  auto it = actors_->gauges.find(provider);
  if (it == actors_->gauges.end()) return std::nullopt;  // the session reports it
  auto refusal = no_room(*context_, *it->second, context_->config.limits.for_provider(provider));
  if (refusal) it->second->refused++;
  return refusal;
}

attachment engine::start_chat(core::chat_request request, rag::repo_source source,
                              std::string request_id, std::shared_ptr<sink_port> port) {
  auto stream = spawn_stream(*system_, context_);
  auto sink = spawn_sink(*system_, context_, std::move(port), stream);
  // The sink is attached before the producer exists, so it sees every event.
  caf::anon_send(stream, attach_atom::value, sink);
  spawn_session(*system_, context_, std::move(request), std::move(source), std::move(request_id),
                actors_->refs, stream);
  attachment a;
  a.state_ = std::make_shared<attachment::state>(attachment::state{std::move(sink)});
  return a;
}

}  // namespace askd::actors
