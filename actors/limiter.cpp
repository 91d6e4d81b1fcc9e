#include "actors/limiter.hpp"

#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

namespace askd::actors {
namespace {

using table_type = core::slot_table<std::uint64_t>;
using holder_ids = std::vector<std::uint64_t>;

struct limiter_state {
  std::shared_ptr<engine_context> context;
  limiter_gauges* gauges = nullptr;  // and the table, shared with the holders' threads
  std::map<std::uint64_t, caf::typed_response_promise<admission>> waiting;  // claims, by holder
  static inline const char* name = "limiter";
};

using self_ptr = limiter_actor::stateful_pointer<limiter_state>;

// The table's operations, each under its lock, whoever runs it: a holder's thread or the
// limiter actor. Every change is published before the lock goes, so precheck and
// /metrics see the table as it is and the server-wide queue count moves by the difference.

void publish(engine_context& context, limiter_gauges& g) {
  auto queued = static_cast<std::int64_t>(g.table.queued());
  context.queued_requests += queued - g.queued.exchange(queued);
  g.active = static_cast<std::int64_t>(g.table.active());
}

// A place for `id`: nullopt when it has one (`fresh`: taken now), else why there is none.
std::optional<core::error> take_place(engine_context& context, limiter_gauges& g, std::uint64_t id,
                                      bool& fresh) {
  fresh = false;
  if (g.table.holds(id)) return std::nullopt;
  if (auto full = no_room(context, g, g.limit)) return full;
  g.table.reserve(id);
  fresh = true;
  publish(context, g);
  return std::nullopt;
}

// A slot for `id`, and a place first when it has none (`fresh`): granted, waiting (in the
// queue from now on), or refused.
table_type::claim_result take_slot(engine_context& context, limiter_gauges& g, std::uint64_t id,
                                   bool& fresh) {
  fresh = !g.table.holds(id);
  auto outcome = g.table.claim(id);
  if (outcome == table_type::claim_result::refused)
    fresh = false;
  else
    publish(context, g);
  return outcome;
}

// `id` gives back its slot (or with `leave`, its place too). Returns the holders whose
// waiting claims the limiter must now answer (the slot went to them) or forget (`id`
// left while waiting).
holder_ids take_back(engine_context& context, limiter_gauges& g, std::uint64_t id, bool leave) {
  bool left_waiting = leave && g.table.waiting(id);
  auto changed = leave ? g.table.release(id) : g.table.yield(id);
  if (left_waiting) changed.push_back(id);
  publish(context, g);
  return changed;
}

// The table of a running limiter, found from its handle; null when it has stopped (or
// this context never had it): then its messages decide, as they always did.
limiter_gauges* table_of(engine_context& context, const limiter_actor& limiter) {
  if (!limiter) return nullptr;
  auto id = limiter.id();
  for (auto& g : context.limiters)
    if (g.actor.load(std::memory_order_relaxed) == id) return &g;
  return nullptr;
}

// Under the table's lock: a stopped limiter's table decides nothing more (its gauges were
// cleared when it stopped).
bool running(const limiter_gauges& g, const limiter_actor& limiter) {
  return g.actor.load(std::memory_order_relaxed) == limiter.id();
}

// `id` gives back here; a waiter that got the slot is answered by the limiter.
void take_back_here(const std::shared_ptr<engine_context>& context, limiter_gauges& g,
                    const limiter_actor& limiter, std::uint64_t id, bool leave) {
  holder_ids changed;
  {
    std::lock_guard lock(g.lock);
    if (!running(g, limiter)) return;
    changed = take_back(*context, g, id, leave);
  }
  if (!changed.empty()) caf::anon_send(limiter, waiters_atom::value, std::move(changed));
}

// A holder gives everything back when it ends, however it ends (finished, failed,
// crashed, killed, the server stopping): a functor attached to it when it takes a place,
// run on its thread as it goes. Unlike a monitor, it costs no message unless a waiter
// gets the slot; a holder that released first finds nothing left to give.
void watch(const std::shared_ptr<engine_context>& context, limiter_gauges& g,
           const limiter_actor& limiter, const caf::actor& holder) {
  holder->attach_functor([context, g = &g, limiter, id = holder.id()] {
    take_back_here(context, *g, limiter, id, true);
  });
}

// `decide(gauges, fresh)` on the table under its lock, for `holder`: whether it was
// admitted; a place it took (`fresh`) is watched.
template <class Decide>
bool decide_here(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
                 const caf::actor& holder, Decide decide) {
  auto* g = table_of(*context, limiter);
  if (!g || !holder) return false;
  bool fresh = false, admitted = false;
  {
    std::lock_guard lock(g->lock);
    if (!running(*g, limiter)) return false;
    admitted = decide(*g, fresh);
  }
  if (fresh) watch(context, *g, limiter, holder);
  return admitted;
}

// A slot (yield_atom) or place and slot (release_atom) given back by `holder`.
template <class Atom>
void give_back_as(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
                  Atom what, const caf::actor& holder) {
  if (!holder) return;
  if (auto* g = table_of(*context, limiter))
    take_back_here(context, *g, limiter, holder.id(), std::is_same_v<Atom, release_atom>);
  else if (limiter)
    caf::anon_send(limiter, what, holder);
}

admission refuse(self_ptr self, core::error err) {
  self->state.gauges->refused++;
  return admission{std::move(err)};
}

// The claims of `ids` whose holder has a slot now are answered; those whose holder left
// are forgotten. A holder not waiting here yet (its claim is on its way) finds its slot
// when the claim arrives.
void answer(self_ptr self, const holder_ids& ids) {
  auto& st = self->state;
  std::vector<caf::typed_response_promise<admission>> granted;
  {
    std::lock_guard lock(st.gauges->lock);
    for (auto id : ids) {
      auto it = st.waiting.find(id);
      if (it == st.waiting.end()) continue;
      if (st.gauges->table.has_slot(id))
        granted.push_back(std::move(it->second));
      else if (st.gauges->table.holds(id))
        continue;  // still waiting
      st.waiting.erase(it);
    }
  }
  for (auto& rp : granted) rp.deliver(admission{});
}

// What the holder gives back by message (tests; a table not found from the handle).
void take_back_by_message(self_ptr self, const caf::actor& holder, bool leave) {
  auto& st = self->state;
  holder_ids changed;
  {
    std::lock_guard lock(st.gauges->lock);
    changed = take_back(*st.context, *st.gauges, holder.id(), leave);
  }
  answer(self, changed);
}

limiter_actor::behavior_type limiter(self_ptr self, std::shared_ptr<engine_context> context,
                                     limiter_gauges* gauges) {
  auto& st = self->state;
  st.context = std::move(context);
  st.gauges = gauges;
  // Gone with the engine: the table stops deciding, and the server-wide queue count
  // forgets what was ours.
  self->attach_functor([ctx = st.context, gauges] {
    std::lock_guard lock(gauges->lock);
    gauges->actor = 0;
    ctx->queued_requests -= gauges->queued.exchange(0);
    gauges->active = 0;
  });
  return {
      [=](reserve_atom, const caf::actor& holder) -> admission {
        auto& st = self->state;
        bool fresh = false;
        std::optional<core::error> full;
        {
          std::lock_guard lock(st.gauges->lock);
          full = take_place(*st.context, *st.gauges, holder.id(), fresh);
        }
        if (full) return refuse(self, std::move(*full));
        if (fresh) watch(st.context, *st.gauges, caf::actor_cast<limiter_actor>(self), holder);
        return admission{};
      },
      [=](claim_atom, const caf::actor& holder) -> caf::result<admission> {
        auto& st = self->state;
        bool fresh = false;
        table_type::claim_result outcome;
        std::optional<core::error> full;
        {
          std::lock_guard lock(st.gauges->lock);
          outcome = take_slot(*st.context, *st.gauges, holder.id(), fresh);
          // Every place is taken, which the published occupancy says.
          if (outcome == table_type::claim_result::refused)
            full = no_room(*st.context, *st.gauges, st.gauges->limit);
        }
        if (outcome == table_type::claim_result::refused) return refuse(self, std::move(*full));
        if (fresh) watch(st.context, *st.gauges, caf::actor_cast<limiter_actor>(self), holder);
        if (outcome == table_type::claim_result::granted) return admission{};
        auto rp = self->make_response_promise<admission>();
        st.waiting[holder.id()] = rp;
        return rp;
      },
      [=](release_atom, const caf::actor& holder) { take_back_by_message(self, holder, true); },
      [=](yield_atom, const caf::actor& holder) { take_back_by_message(self, holder, false); },
      [=](capacity_atom, std::int64_t slots) {
        auto& st = self->state;
        holder_ids granted;
        {
          std::lock_guard lock(st.gauges->lock);
          st.gauges->capacity = slots;
          granted = st.gauges->table.resize(static_cast<std::size_t>(slots));
          publish(*st.context, *st.gauges);
        }
        answer(self, granted);
      },
      [=](waiters_atom, const holder_ids& changed) { answer(self, changed); },
  };
}

}  // namespace

std::optional<core::error> no_room(const engine_context& context, const limiter_gauges& gauges,
                                   const core::provider_limit& limit) {
  const auto& limits = context.config.limits;
  std::string why;
  auto capacity = gauges.capacity.load();
  auto slots = capacity >= 0 ? capacity : limit.max_concurrent;
  if (slots == 0)
    why = gauges.name + " has no slot on this node (its share of the cluster's " +
          std::to_string(limit.max_concurrent) + " is 0)";
  else if (gauges.active + gauges.queued >= slots + limit.max_queued)
    why = gauges.name + " is at its limit (" + std::to_string(slots) + " at once" +
          (capacity >= 0 ? " on this node" : "") + ", " + std::to_string(limit.max_queued) +
          " queued)";
  else if (context.queued_requests >= limits.max_queued_requests)
    why = "askd has " + std::to_string(limits.max_queued_requests) +
          " requests queued (limits.max_queued_requests)";
  else
    return std::nullopt;
  auto err = core::error::make(core::error_code::overloaded, why + "; retry shortly");
  err.retry_after_ms = limits.retry_after_s * 1000;
  return err;
}

limiter_actor spawn_limiter(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            core::provider_limit limit, limiter_gauges* gauges) {
  {
    std::lock_guard lock(gauges->lock);
    gauges->limit = limit;
    gauges->table = table_type(static_cast<std::size_t>(limit.max_concurrent),
                               static_cast<std::size_t>(limit.max_queued));
  }
  auto actor = system.spawn(limiter, std::move(context), gauges);
  // From here its holders find the table; nobody has the handle before.
  gauges->actor = actor.id();
  return actor;
}

bool admitted_here(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
                   reserve_atom, const caf::actor& holder) {
  return decide_here(context, limiter, holder, [&](limiter_gauges& g, bool& fresh) {
    return !take_place(*context, g, holder.id(), fresh);
  });
}

bool admitted_here(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
                   claim_atom, const caf::actor& holder) {
  return decide_here(context, limiter, holder, [&](limiter_gauges& g, bool& fresh) {
    return take_slot(*context, g, holder.id(), fresh) == table_type::claim_result::granted;
  });
}

void give_back(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
               yield_atom what, const caf::actor& holder) {
  give_back_as(context, limiter, what, holder);
}

void give_back(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
               release_atom what, const caf::actor& holder) {
  give_back_as(context, limiter, what, holder);
}

}  // namespace askd::actors
