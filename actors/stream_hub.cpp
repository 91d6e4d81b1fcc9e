#include "actors/stream_hub.hpp"

#include <algorithm>
#include <string>

namespace askd::actors {
namespace {

std::size_t cost(const core::stream_event& e) {
  return sizeof(core::stream_event) + e.text.size() + e.data.size() + 64;
}

}  // namespace

bool stream_hub::publish(core::stream_event event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ended_) return false;
  event.seq = ++seq_;
  ended_ = event.terminal();
  if (event.type == core::event_type::delta) {
    if (!deltas_.first) deltas_.first = clock::now();
    deltas_.bytes += static_cast<std::int64_t>(event.text.size());
  }
  for (const auto& o : outlets_) o.port->deliver(event);
  if (kept_) keep(event);
  if (ended_) outlets_.clear();  // each port has had its last event
  return true;
}

void stream_hub::keep(const core::stream_event& event) {
  auto& kept = *kept_;
  kept.push_back(std::make_shared<const core::stream_event>(event));
  kept_bytes_ += cost(event);
  while (kept.size() > 1 && kept_bytes_ > replay_bytes_) {
    kept_bytes_ -= cost(*kept.front());
    kept.pop_front();
    ++first_kept_;
  }
}

stream_hub::attached stream_hub::attach(std::uint64_t key, std::shared_ptr<sink_port> port,
                                        std::uint64_t after) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto refuse = [&](std::string why) {
    port->deliver(
        core::make_error(core::error::make(core::error_code::bad_request, std::move(why))));
    return attached::refused;
  };
  if (after > seq_)
    return refuse("event " + std::to_string(after) + " has not happened yet (the last is " +
                  std::to_string(seq_) + ")");
  if (after + 1 < first_kept_ && seq_ >= first_kept_)
    // The events it lacks were dropped to keep the buffer bounded.
    return refuse("events up to " + std::to_string(first_kept_ - 1) +
                  " are no longer kept (streams.replay_bytes); resume from there or later");
  bool sent = false;
  if (kept_)
    for (const auto& e : *kept_) {
      if (e->seq <= after) continue;
      port->deliver(*e);
      sent = true;
    }
  if (ended_) {
    // Nothing new: it has seen the end already; it gets that end again to close on.
    if (!sent && kept_ && !kept_->empty()) port->closed(*kept_->back());
    return attached::finished;
  }
  port->live();
  outlets_.push_back({key, std::move(port)});
  return attached::live;
}

void stream_hub::detach(std::uint64_t key) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(outlets_, [&](const outlet& o) { return o.key == key; });
}

bool stream_hub::ended() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ended_;
}

stream_hub::delta_stats stream_hub::deltas() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deltas_;
}

}  // namespace askd::actors
