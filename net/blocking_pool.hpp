// net/blocking_pool.hpp — a few threads for the work a request may need that blocks
// (reading a repository's file tree, the wiki cache's files), so an io thread never
// waits on the disk. Bounded: past `max_queued` jobs waiting, post() refuses and the
// caller answers 503 at once instead of queueing without end.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace askd::net {

class blocking_pool {
 public:
  blocking_pool(int threads, std::size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  // Runs what is queued, then joins.
  ~blocking_pool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  // False when the queue is full (the job is not run).
  bool post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      if (jobs_.size() >= max_queued_ || stopping_) return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

 private:
  void run() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace askd::net
