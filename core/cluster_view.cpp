#include "core/cluster_view.hpp"

#include <algorithm>
#include <cmath>

namespace askd::core {
namespace {

// FNV-1a over the node name, a separator and the key, finished with splitmix64's mixer:
// FNV alone leaves nearby inputs with nearby hashes.
std::uint64_t score_hash(std::string_view node, std::string_view key) {
  std::uint64_t h = 14695981039346656037ull;
  auto add = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  add(node);
  add(std::string_view("\n", 1));
  add(key);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

// Weighted rendezvous: -w / ln(u) with u uniform in (0, 1); for equal weights the order
// is that of the hashes.
double score(std::string_view node, double weight, std::string_view key) {
  double u = (static_cast<double>(score_hash(node, key) >> 11) + 0.5) / 9007199254740992.0;
  return -weight / std::log(u);
}

}  // namespace

const char* to_string(member_state s) {
  switch (s) {
    case member_state::self: return "self";
    case member_state::joining: return "joining";
    case member_state::up: return "up";
    case member_state::down: return "down";
    case member_state::refused: return "refused";
  }
  return "?";
}

std::vector<std::string> rendezvous_order(std::string_view key,
                                          const std::vector<weighted_node>& live) {
  std::vector<std::pair<double, const std::string*>> scored;
  scored.reserve(live.size());
  for (const auto& [name, weight] : live) scored.emplace_back(score(name, weight, key), &name);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  out.reserve(scored.size());
  for (const auto& s : scored) out.push_back(*s.second);
  return out;
}

std::string rendezvous_owner(std::string_view key, const std::vector<weighted_node>& live) {
  const std::string* best = nullptr;
  double best_score = -1;
  for (const auto& [name, weight] : live) {
    auto s = score(name, weight, key);
    if (!best || s > best_score || (s == best_score && name < *best)) {
      best = &name;
      best_score = s;
    }
  }
  return best ? *best : std::string();
}

std::int64_t share_of(std::int64_t total, const std::string& self,
                      const std::vector<weighted_node>& live) {
  double weights = 0;
  for (const auto& n : live) weights += n.second;
  if (weights <= 0 || total <= 0) return 0;
  struct part {
    const std::string* name;
    std::int64_t whole;
    double remainder;
  };
  std::vector<part> parts;
  std::int64_t given = 0;
  for (const auto& [name, weight] : live) {
    double exact = static_cast<double>(total) * weight / weights;
    auto whole = static_cast<std::int64_t>(std::floor(exact));
    parts.push_back({&name, whole, exact - static_cast<double>(whole)});
    given += whole;
  }
  std::sort(parts.begin(), parts.end(), [](const part& a, const part& b) {
    return a.remainder != b.remainder ? a.remainder > b.remainder : *a.name < *b.name;
  });
  for (auto& p : parts)
    if (given < total) {
      ++p.whole;
      ++given;
    }
  for (const auto& p : parts)
    if (*p.name == self) return p.whole;
  return 0;
}

cluster_view::cluster_view(std::string self, double weight, std::string address)
    : self_(std::move(self)) {
  cluster_member me;
  me.name = self_;
  me.address = std::move(address);
  me.state = member_state::self;
  me.since = std::chrono::system_clock::now();
  me.weight = weight;
  members_.push_back(std::move(me));
  base_.push_back(self_);
}

namespace {
bool is_live(member_state s) { return s == member_state::self || s == member_state::up; }
}  // namespace

void cluster_view::update(const cluster_member& m) {
  std::lock_guard lock(mutex_);
  bool in_base = std::find(base_.begin(), base_.end(), m.name) != base_.end();
  if (is_live(m.state) && !in_base) base_.push_back(m.name);
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const cluster_member& x) { return x.name == m.name; });
  if (it == members_.end()) {
    members_.push_back(m);
    members_.back().since = std::chrono::system_clock::now();
    if (is_live(m.state)) ++generation_;
    return;
  }
  bool was_live = is_live(it->state);
  if (is_live(m.state)) std::erase_if(lost_, [&](const auto& l) { return l.first == m.name; });
  if (was_live && !is_live(m.state) && in_base)
    lost_.emplace_back(m.name, std::chrono::steady_clock::now());
  auto since = it->state == m.state ? it->since : std::chrono::system_clock::now();
  auto load = it->load;
  *it = m;
  it->since = since;
  it->load = load;
  if (was_live != is_live(m.state) || (is_live(m.state) && it->weight != m.weight)) ++generation_;
}

void cluster_view::set_load(const std::string& name, const node_load& load) {
  std::lock_guard lock(mutex_);
  for (auto& m : members_)
    if (m.name == name) m.load = load;
}

std::vector<cluster_member> cluster_view::members() const {
  std::lock_guard lock(mutex_);
  return members_;
}

cluster_view::quorum cluster_view::quorum_now() const {
  std::lock_guard lock(mutex_);
  return quorum_locked();
}

cluster_view::quorum cluster_view::quorum_locked() const {
  quorum q;
  q.base = base_.size();
  for (const auto& m : members_)
    if (is_live(m.state) && std::find(base_.begin(), base_.end(), m.name) != base_.end()) ++q.up;
  return q;
}

void cluster_view::settle(std::chrono::steady_clock::time_point now,
                          std::chrono::steady_clock::duration after) {
  std::lock_guard lock(mutex_);
  for (auto it = lost_.begin(); it != lost_.end();) {
    if (now - it->second < after || !quorum_locked().majority()) {
      ++it;
      continue;
    }
    std::erase(base_, it->first);
    it = lost_.erase(it);
  }
}

std::vector<weighted_node> cluster_view::live() const {
  std::lock_guard lock(mutex_);
  std::vector<weighted_node> out;
  for (const auto& m : members_)
    if (is_live(m.state)) out.emplace_back(m.name, m.weight);
  return out;
}

std::string cluster_view::owner_of(std::string_view key) const {
  return rendezvous_owner(key, live());
}

std::uint64_t cluster_view::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

}  // namespace askd::core
