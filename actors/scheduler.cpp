#include "actors/scheduler.hpp"

#include <caf/all.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <mutex>
#include <thread>
#include <unordered_set>

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

// CAF's work-stealing coordinator with the clock above. The base class's own clock
// thread still starts, and stays idle: nothing reaches that clock.
class coordinator : public caf::scheduler::coordinator<caf::policy::work_stealing> {
 public:
  using super = caf::scheduler::coordinator<caf::policy::work_stealing>;
  using super::super;

  quiet_clock& clock() noexcept override { return clock_; }

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
};

}  // namespace

void use_quiet_clock(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
      [](caf::actor_system& sys) -> caf::actor_system::module* { return new coordinator(sys); });
}

}  // namespace askd::actors
