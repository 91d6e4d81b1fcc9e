#include "actors/limiter.hpp"

#include <map>

#include "core/slot_table.hpp"

namespace askd::actors {
namespace {

using table_type = core::slot_table<caf::actor_addr>;

struct limiter_state {
  std::shared_ptr<engine_context> context;
  limiter_gauges* gauges = nullptr;
  core::provider_limit limit;
  table_type table{1, 0};
  std::map<caf::actor_addr, caf::typed_response_promise<admission>> waiting;  // claims
  static inline const char* name = "limiter";
};

using self_ptr = limiter_actor::stateful_pointer<limiter_state>;

// Publishes the table's occupancy; the server-wide queue count moves by the difference.
void publish(self_ptr self) {
  auto& st = self->state;
  auto queued = static_cast<std::int64_t>(st.table.queued());
  st.context->queued_requests += queued - st.gauges->queued.exchange(queued);
  st.gauges->active = static_cast<std::int64_t>(st.table.active());
}

admission refuse(self_ptr self, core::error err) {
  self->state.gauges->refused++;
  return admission{std::move(err)};
}

// The slots freed went to `granted`: their claims are answered.
void grant(self_ptr self, const std::vector<caf::actor_addr>& granted) {
  auto& st = self->state;
  for (const auto& next : granted) {
    auto it = st.waiting.find(next);
    if (it == st.waiting.end()) continue;
    it->second.deliver(admission{});
    st.waiting.erase(it);
  }
  publish(self);
}

void release(self_ptr self, const caf::actor_addr& holder) {
  self->state.waiting.erase(holder);
  grant(self, self->state.table.release(holder));
}

limiter_actor::behavior_type limiter(self_ptr self, std::shared_ptr<engine_context> context,
                                     core::provider_limit limit, limiter_gauges* gauges) {
  auto& st = self->state;
  st.context = std::move(context);
  st.gauges = gauges;
  st.limit = limit;
  st.table = table_type(static_cast<std::size_t>(limit.max_concurrent),
                        static_cast<std::size_t>(limit.max_queued));
  // A holder that dies (finished, failed, crashed, cancelled) gives everything back.
  self->set_down_handler([=](caf::down_msg& msg) { release(self, msg.source); });
  // Gone with the engine: the server-wide queue count forgets what was ours.
  self->attach_functor([ctx = st.context, gauges] {
    ctx->queued_requests -= gauges->queued.exchange(0);
    gauges->active = 0;
  });
  return {
      [=](reserve_atom, const caf::actor& holder) -> admission {
        auto& st = self->state;
        auto addr = holder.address();
        if (st.table.holds(addr)) return admission{};
        if (auto full = no_room(*st.context, *st.gauges, st.limit)) return refuse(self, *full);
        st.table.reserve(addr);
        self->monitor(holder);
        publish(self);
        return admission{};
      },
      [=](claim_atom, const caf::actor& holder) -> caf::result<admission> {
        auto& st = self->state;
        auto addr = holder.address();
        bool fresh = !st.table.holds(addr);
        auto outcome = st.table.claim(addr);
        if (outcome == table_type::claim_result::refused)
          return refuse(self, *no_room(*st.context, *st.gauges, st.limit));
        if (fresh) self->monitor(holder);
        publish(self);
        if (outcome == table_type::claim_result::granted) return admission{};
        auto rp = self->make_response_promise<admission>();
        st.waiting[addr] = rp;
        return rp;
      },
      [=](release_atom, const caf::actor& holder) {
        self->demonitor(holder);
        release(self, holder.address());
      },
      [=](yield_atom, const caf::actor& holder) {
        grant(self, self->state.table.yield(holder.address()));
      },
      [=](capacity_atom, std::int64_t slots) {
        auto& st = self->state;
        st.gauges->capacity = slots;
        grant(self, st.table.resize(static_cast<std::size_t>(slots)));
      },
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
  return system.spawn(limiter, std::move(context), limit, gauges);
}

}  // namespace askd::actors
