#include "actors/answer_cache.hpp"

#include "actors/generation_output.hpp"
#include "providers/aws.hpp"

namespace askd::actors {

void answer_flight::record(std::string_view text) {
  std::lock_guard lock(mutex_);
  if (over_) return;
  for (auto& f : followers_) f.out->offer(1, text);
  if (overflow_) return;
  if (answer_.text.size() + text.size() > max_bytes_) {
    // Too big to keep: the followers it has go on getting it, no one else joins.
    overflow_ = true;
    answer_ = {};
    return;
  }
  answer_.text += text;
  answer_.ends.push_back(static_cast<std::uint32_t>(answer_.text.size()));
}

bool answer_flight::join(std::shared_ptr<generation_output> out, end_handler ended) {
  std::lock_guard lock(mutex_);
  if (over_ || overflow_) return false;
  out->begin(1);
  answer_.each_delta([&](std::string_view piece) { out->offer(1, piece); });
  followers_.push_back({std::move(out), std::move(ended)});
  return true;
}

void answer_flight::leave(const generation_output* out) {
  std::lock_guard lock(mutex_);
  std::erase_if(followers_, [&](const follower& f) { return f.out.get() == out; });
}

void answer_flight::finish(const flight_end& end) { close(end); }

void answer_flight::abandon() { close(std::nullopt); }

void answer_flight::close(const std::optional<flight_end>& end) {
  std::vector<follower> followers;
  std::shared_ptr<cached_answer> kept;
  {
    std::lock_guard lock(mutex_);
    if (over_) return;
    over_ = true;
    followers.swap(followers_);
    // Clean answers only: a degraded one (fallback provider, no context, continued) is
    // not what the question gets when all is well.
    if (end && end->degraded.empty() && !overflow_ && !answer_.text.empty() &&
        (end->finish_reason == "stop" || end->finish_reason == "length")) {
      kept = std::make_shared<cached_answer>(std::move(answer_));
      kept->end = *end;
    }
    answer_ = {};
  }
  for (auto& f : followers) f.ended(end);
  cache_.landed(key_, this, std::move(kept));
}

answer_cache::answer_cache(const core::answer_cache_settings& settings)
    : enabled_(settings.enabled),
      max_bytes_(static_cast<std::size_t>(settings.max_mb) << 20),
      ttl_(settings.ttl_s) {}

std::string answer_cache::key_of(const std::string& provider, const std::string& model,
                                 const std::vector<core::chat_message>& prompt,
                                 const std::string& token) {
  // Every field with its length before it: no two questions write the same bytes.
  std::string material = "askd-answer-1";
  auto add = [&](std::string_view field) {
    material += std::to_string(field.size());
    material += ':';
    material += field;
  };
  add(provider);
  add(model);
  add(token);
  for (const auto& m : prompt) {
    add(m.role);
    add(m.content);
  }
  return providers::aws::sha256_hex(material);
}

answer_cache::lookup answer_cache::find(const std::string& key, clock::time_point now) {
  lookup out;
  if (!enabled_) return out;
  std::lock_guard lock(mutex_);
  if (now >= next_sweep_) {  // answers past their time go, asked for or not
    next_sweep_ = now + std::max<clock::duration>(ttl_ / 4, std::chrono::seconds(1));
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (it->second.expires <= now) {
        drop(it);
        expired++;
      }
      it = next;
    }
  }
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (it->second.expires > now) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      out.hit = it->second.answer;
      hits++;
      return out;
    }
    drop(it);
    expired++;
  }
  if (auto it = flights_.find(key); it != flights_.end()) {
    out.flight = it->second;
    return out;  // shared counted by the follower once it joined
  }
  // An answer bigger than an eighth of the cache would push out too much to be kept.
  out.flight = std::make_shared<answer_flight>(*this, key, std::max<std::size_t>(max_bytes_ / 8, 1));
  out.lead = true;
  flights_.emplace(key, out.flight);
  misses++;
  return out;
}

void answer_cache::landed(const std::string& key, const answer_flight* flight,
                          std::shared_ptr<const cached_answer> answer) {
  std::lock_guard lock(mutex_);
  if (auto it = flights_.find(key); it != flights_.end() && it->second.get() == flight)
    flights_.erase(it);
  if (!answer) return;
  if (auto it = entries_.find(key); it != entries_.end()) drop(it);  // kept meanwhile
  auto size = answer->bytes();
  while (!lru_.empty() && bytes_ + size > max_bytes_) {
    drop(entries_.find(lru_.back()));
    evictions++;
  }
  lru_.push_front(key);
  entries_.emplace(key, entry{std::move(answer), clock::now() + ttl_, lru_.begin()});
  bytes_ += size;
  stores++;
}

void answer_cache::drop(std::unordered_map<std::string, entry>::iterator it) {
  bytes_ -= it->second.answer->bytes();
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

std::int64_t answer_cache::bytes() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(bytes_);
}

std::int64_t answer_cache::entries() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(entries_.size());
}

}  // namespace askd::actors
