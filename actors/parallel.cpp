#include "actors/parallel.hpp"

#include <algorithm>
#include <exception>
#include <thread>

namespace askd::actors {

const rag::task_runner& thread_runner() {
  static const rag::task_runner runner = [](std::vector<std::function<void()>>& tasks) {
    std::vector<std::exception_ptr> errors(tasks.size());
    auto guarded = [&](std::size_t i) {
      try {
        tasks[i]();
      } catch (...) {
        errors[i] = std::current_exception();
      }
    };
    std::vector<std::thread> threads;
    std::size_t next = 1;
    try {
      for (; next < tasks.size(); ++next) threads.emplace_back(guarded, next);
    } catch (...) {
      // No thread to spare: the caller's thread runs what is left.
      for (; next < tasks.size(); ++next) guarded(next);
    }
    if (!tasks.empty()) guarded(0);
    for (auto& t : threads) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  };
  return runner;
}

std::size_t index_shards() {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
}

}  // namespace askd::actors
