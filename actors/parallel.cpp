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
    for (std::size_t i = 1; i < tasks.size(); ++i) threads.emplace_back(guarded, i);
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
