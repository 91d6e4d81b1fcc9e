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
  for (auto& o : outlets_) {
    if (o.paused) continue;  // it reads this from kept_ when it resumes
    o.port->deliver(event);
    o.seen = event.seq;
    if (kept_ && !ended_ && o.port->behind()) pause(o);
  }
  if (kept_) keep(event);
  // Each port that is not paused has had its last event; a paused one still reads on.
  if (ended_) std::erase_if(outlets_, [](const outlet& o) { return !o.paused; });
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

bool stream_hub::catch_up(outlet& o) {
  if (!kept_) return true;
  const auto& kept = *kept_;
  for (auto i = o.seen + 1 < first_kept_ ? 0 : o.seen + 1 - first_kept_; i < kept.size(); ++i) {
    o.port->deliver(*kept[i]);
    o.seen = kept[i]->seq;
    if (i + 1 < kept.size() && o.port->behind()) return false;
  }
  return true;
}

void stream_hub::pause(outlet& o) {
  o.paused = true;
  // A strong reference: a port catching up finishes even if the stream actor is gone.
  // The port's connection runs or drops the function, which ends the cycle.
  o.port->pause([self = shared_from_this(), key = o.key] { self->resume(key); });
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
  outlet o{key, std::move(port), after, false};
  bool replayed = kept_ && o.seen < seq_;
  if (!catch_up(o)) {
    // The rest of the replay goes at the connection's pace; live events after it.
    outlets_.push_back(std::move(o));
    pause(outlets_.back());
    return ended_ ? attached::finished : attached::live;
  }
  if (ended_) {
    // Nothing new: it has seen the end already; it gets that end again to close on.
    if (!replayed && kept_ && !kept_->empty()) o.port->closed(*kept_->back());
    return attached::finished;
  }
  o.port->live();
  outlets_.push_back(std::move(o));
  return attached::live;
}

void stream_hub::resume(std::uint64_t key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(outlets_.begin(), outlets_.end(),
                         [&](const outlet& o) { return o.key == key; });
  if (it == outlets_.end() || !it->paused) return;
  if (it->seen + 1 < first_kept_) {
    // What it missed was dropped while it waited: it cannot be given the answer whole.
    it->port->lost(first_kept_ - 1);
    outlets_.erase(it);
    return;
  }
  if (!catch_up(*it)) return pause(*it);
  it->paused = false;
  it->port->live();
  if (ended_) outlets_.erase(it);  // it has had the terminal event
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

std::size_t stream_hub::ports() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outlets_.size();
}

}  // namespace askd::actors
