#include "actors/scheduler.hpp"

#include <caf/all.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <unordered_set>
#include <vector>

namespace askd::actors {

// CAF's work-stealing policy, under a name of askd's own: its workers are the ones below.
struct stealing : caf::policy::work_stealing {};

}  // namespace askd::actors

namespace caf::scheduler {

// askd's scheduler threads: CAF 0.17's worker without the logger's bookkeeping. CAF's own
// run loop casts every job it resumes to an actor (a cross-cast, dynamic_cast through
// virtual bases) and tells the logger which actor the thread runs, twice per job
// (thread_local_aid: a lock and a hash), even with logging compiled out
// (CAF_LOG_LEVEL_QUIET, as Debian builds it): about 20k instructions per compat stream,
// 5% of it (bench/RESULTS.md). These threads set no current logger, so the pushes CAF
// does inside each actor's resume are skipped too; with logging compiled out nothing
// reads them. The loop is CAF's otherwise.
template <>
class worker<askd::actors::stealing> : public execution_unit {
 public:
  using policy = askd::actors::stealing;
  using job_ptr = resumable*;
  using coordinator_ptr = coordinator<policy>*;
  using policy_data = policy::worker_data;

  worker(size_t worker_id, coordinator_ptr parent, const policy_data& init, size_t throughput)
      : execution_unit(&parent->system()),
        max_throughput_(throughput),
        id_(worker_id),
        parent_(parent),
        data_(init) {}
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  void start() {
    this_thread_ = std::thread{[this] {
      detail::set_thread_name("askd.worker");
      system().thread_started();
      run();
      system().thread_terminates();
    }};
  }
  // From any other thread.
  void external_enqueue(job_ptr job) { policy_.external_enqueue(this, job); }
  // From a job this worker runs.
  void exec_later(job_ptr job) override { policy_.internal_enqueue(this, job); }
  coordinator_ptr parent() { return parent_; }
  size_t id() const { return id_; }
  std::thread& get_thread() { return this_thread_; }
  policy_data& data() { return data_; }
  size_t max_throughput() { return max_throughput_; }

 private:
  void run() {
    for (;;) {
      auto job = policy_.dequeue(this);
      policy_.before_resume(this, job);
      auto res = job->resume(this, max_throughput_);
      policy_.after_resume(this, job);
      switch (res) {
        case resumable::resume_later:
          policy_.resume_job_later(this, job);  // it stays in the loop: keep our reference
          break;
        case resumable::done:
          policy_.after_completion(this, job);
          intrusive_ptr_release(job);
          break;
        case resumable::awaiting_message:
          intrusive_ptr_release(job);  // enqueued again when a message comes
          break;
        case resumable::shutdown_execution_unit:
          policy_.after_completion(this, job);
          policy_.before_shutdown(this);
          return;
      }
    }
  }

  size_t max_throughput_;  // messages an actor may take per resume
  std::thread this_thread_;
  size_t id_;
  coordinator_ptr parent_;
  policy_data data_;
  policy policy_;
};

}  // namespace caf::scheduler

namespace askd::actors {
namespace {

// CAF's clock, but an actor's cancel_timeouts reaches the clock thread only when that
// actor set a timeout (a request with one, an `after` in a behaviour) since it started.
class quiet_clock : public caf::detail::thread_safe_actor_clock {
 public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    note(self);
    super::set_ordinary_timeout(t, self, type, id);
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    note(self);
    super::set_request_timeout(t, self, id);
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    note(self);
    super::set_multi_timeout(t, self, type, id);
  }
  // Called by every actor's cleanup (and only there): an actor that set nothing has
  // nothing to cancel. Its address may be reused by a later actor only after this.
  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard lock(mu_);
      if (timed_.erase(self) == 0) return;
    }
    super::cancel_timeouts(self);
  }

 private:
  void note(caf::abstract_actor* self) {
    std::lock_guard lock(mu_);
    timed_.insert(self);
  }

  std::mutex mu_;
  std::unordered_set<caf::abstract_actor*> timed_;  // live actors that set a timeout
};

// CAF's work-stealing coordinator with the clock above and the workers above. The base
// class's own clock thread still starts, and stays idle: nothing reaches that clock.
class coordinator : public caf::scheduler::coordinator<stealing> {
 public:
  using super = caf::scheduler::coordinator<stealing>;
  using super::super;

  quiet_clock& clock() noexcept override { return clock_; }
  timer_service& timers() { return *timers_; }

 protected:
  void start() override {
    // Before the workers: actors may set timeouts as soon as they run.
    thread_ = std::thread([this] {
      caf::detail::set_thread_name("askd.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    });
    super::start();
  }
  void stop() override {
    super::stop();  // the actors cleaned up here still cancel their timeouts
    clock_.cancel_dispatch_loop();
    thread_.join();
  }

 private:
  quiet_clock clock_;
  std::thread thread_;
  std::shared_ptr<timer_service> timers_ = std::make_shared<timer_service>();
};

}  // namespace

timer_service::timer_service() : thread_([this] { run(); }) {}

timer_service::~timer_service() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::uint64_t timer_service::add(clock::time_point when, caf::strong_actor_ptr target,
                                 caf::message_id response) {
  bool sooner;
  std::uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = ++next_id_;
    auto it = schedule_.emplace(when, std::make_pair(id, entry{std::move(target), response}));
    by_id_.emplace(id, it);
    sooner = when < sleeping_until_;
    if (sooner) sleeping_until_ = when;  // one wake for several sooner entries
  }
  if (sooner) wake_.notify_one();
  return id;
}

bool timer_service::cancel(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  schedule_.erase(it->second);
  by_id_.erase(it);
  return true;
}

std::size_t timer_service::pending() {
  std::lock_guard lock(mu_);
  return schedule_.size();
}

void timer_service::run() {
  caf::detail::set_thread_name("askd.timers");
  std::vector<entry> due;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = clock::now();
    while (!schedule_.empty() && schedule_.begin()->first <= now) {
      by_id_.erase(schedule_.begin()->second.first);
      due.push_back(std::move(schedule_.begin()->second.second));
      schedule_.erase(schedule_.begin());
    }
    if (!due.empty()) {
      lock.unlock();
      for (auto& e : due)
        e.target->enqueue(caf::make_mailbox_element(nullptr, e.response, {}, true), nullptr);
      due.clear();
      lock.lock();
      continue;  // more may have come due meanwhile
    }
    // Until the earliest entry (or one sooner is added); with none, until one is added.
    sleeping_until_ = schedule_.empty() ? clock::time_point::max() : schedule_.begin()->first;
    if (sleeping_until_ == clock::time_point::max())
      wake_.wait(lock);
    else
      wake_.wait_until(lock, sleeping_until_);
  }
}

timer_service* timer_service_of(caf::actor_system& system) {
  auto* c = dynamic_cast<coordinator*>(&system.scheduler());
  return c ? &c->timers() : nullptr;
}

void use_quiet_clock(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
      [](caf::actor_system& sys) -> caf::actor_system::module* { return new coordinator(sys); });
}

}  // namespace askd::actors
