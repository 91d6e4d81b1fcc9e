#include "actors/scheduler.hpp"

#include <caf/all.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <unordered_set>
#include <vector>

namespace askd::actors {

// CAF's work-stealing policy, under a name of askd's own (its workers are the ones below),
// with another way of putting an idle worker to sleep and waking it. CAF's blocks on a
// condition variable whose lock every enqueue takes, notifying under it: a worker woken so
// blocked at once on that lock, still held by the thread that woke it, and was woken a
// second time when that thread let go; and a condition variable's waiter always ends
// with a futex wake of its own when it unlocks. Here a worker sleeps on a futex word that
// says it is asleep; an enqueue that finds it so clears it and wakes it: one futex call on
// each side per wakeup, at each hop of a stream between the io or curl thread and a worker
// (bench/RESULTS.md, tenth pass).
struct stealing : caf::policy::work_stealing {
  using super = caf::policy::work_stealing;

  struct worker_data : super::worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator* p) : super::worker_data(p) {}
    worker_data(const worker_data& other) : super::worker_data(other) {}
    // 1 while the worker is asleep on it, or about to be; an enqueue that sees it so
    // clears it and wakes the worker.
    std::atomic<std::uint32_t> asleep{0};
  };

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    auto& d = self->data();
    d.queue.append(job);  // ends with a sequentially consistent store of the queue's tail
    // Sequentially consistent against the worker's store of `asleep` and its load of the
    // tail: either it sees this job before it sleeps, or this sees it asleep (or both).
    if (d.asleep.load() == 1 && d.asleep.exchange(0) == 1) wake(d.asleep);
  }

  // CAF's: poll its queue (and steal now and then) through the aggressive and moderate
  // strategies, then sleep until an enqueue wakes it, waking on its own at the relaxed
  // strategy's interval to steal.
  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& d = self->data();
    for (std::size_t k = 0; k < 2; ++k) {
      const auto& s = d.strategies[k];
      for (std::size_t i = 0; i < s.attempts; i += s.step_size) {
        if (auto* job = d.queue.take_head()) return job;
        if (i % s.steal_interval == 0)
          if (auto* job = try_steal(self)) return job;
        if (s.sleep_duration.count() > 0) std::this_thread::sleep_for(s.sleep_duration);
      }
    }
    const auto& relaxed = d.strategies[2];
    for (std::size_t i = 1;; ++i) {
      d.asleep.store(1);
      // An enqueue that came before the store above is seen here; one after it sees the
      // flag, and the kernel's compare of the word (still 1?) makes the wake reach us.
      if (d.queue.empty()) sleep(d.asleep, relaxed.sleep_duration);
      d.asleep.store(0, std::memory_order_relaxed);
      if (auto* job = d.queue.take_head()) return job;
      if (i % relaxed.steal_interval == 0)
        if (auto* job = try_steal(self)) return job;
    }
  }

 private:
  // The futex calls take the word's address: an atomic 32-bit word is the word itself.
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  static void sleep(std::atomic<std::uint32_t>& word, caf::timespan limit) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    // Returns at once if the word is no longer 1; woken, timed out or interrupted alike,
    // the caller looks at its queue again.
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, 1u, &ts,
              nullptr, 0);
  }
  static void wake(std::atomic<std::uint32_t>& word) {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
              nullptr, 0);
  }
};

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
