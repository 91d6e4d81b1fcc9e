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
  if (hook_) {  // replicated: out on commit()
    keep(event);
    hook_(*kept_->back());
    return true;
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
  kept_->push_back(std::make_shared<const core::stream_event>(event));
  kept_bytes_ += cost(event);
  trim();
}

void stream_hub::trim() {
  auto& kept = *kept_;
  while (kept.size() > 1 && kept_bytes_ > replay_bytes_ && kept.front()->seq <= visible()) {
    kept_bytes_ -= cost(*kept.front());
    kept.pop_front();
    ++first_kept_;
  }
}

void stream_hub::gate(std::function<void(const core::stream_event&)> hook) {
  std::lock_guard<std::mutex> lock(mutex_);
  committed_ = seq_;
  hook_ = std::move(hook);
}

void stream_hub::ungate() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!hook_) return;
  release(seq_);
  hook_ = nullptr;
}

void stream_hub::commit(std::uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  seq = std::min(seq, seq_);
  if (!hook_ || fenced_ || seq <= committed_) return;
  release(seq);
}

void stream_hub::release(std::uint64_t seq) {
  committed_ = seq;
  for (auto& o : outlets_)
    if (!o.paused && !catch_up(o)) pause(o);
  trim();
  if (visible_end()) std::erase_if(outlets_, [](const outlet& o) { return !o.paused; });
}

void stream_hub::fence() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fenced_) return;
  fenced_ = true;
  ended_ = true;
  for (auto& o : outlets_) o.port->moved();
  outlets_.clear();
}

bool stream_hub::fenced() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fenced_;
}

bool stream_hub::catch_up(outlet& o) {
  if (!kept_) return true;
  const auto& kept = *kept_;
  auto end = std::min<std::size_t>(kept.size(), visible() + 1 - first_kept_);
  for (auto i = o.seen + 1 < first_kept_ ? 0 : o.seen + 1 - first_kept_; i < end; ++i) {
    o.port->deliver(*kept[i]);
    o.seen = kept[i]->seq;
    if (i + 1 < end && o.port->behind()) return false;
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
  if (fenced_) {
    port->moved();
    return attached::refused;
  }
  auto refuse = [&](std::string why) {
    port->deliver(
        core::make_error(core::error::make(core::error_code::bad_request, std::move(why))));
    return attached::refused;
  };
  if (after > visible())
    return refuse("event " + std::to_string(after) + " has not happened yet (the last is " +
                  std::to_string(visible()) + ")");
  if (after + 1 < first_kept_)
    // The events it lacks were dropped to keep the buffer bounded.
    return refuse("events up to " + std::to_string(first_kept_ - 1) +
                  " are no longer kept (streams.replay_bytes); resume from there or later");
  outlet o{key, std::move(port), after, false};
  bool replayed = kept_ && o.seen < visible();
  if (!catch_up(o)) {
    // The rest of the replay goes at the connection's pace; live events after it.
    outlets_.push_back(std::move(o));
    pause(outlets_.back());
    return visible_end() ? attached::finished : attached::live;
  }
  if (visible_end()) {
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
  if (visible_end()) outlets_.erase(it);  // it has had the terminal event
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
