// actors/limiter.hpp — a limiter (DESIGN.md "Actors"): a concurrency cap and a bounded
// FIFO queue in front of one provider. Sessions reserve a place when they are admitted
// (a full queue refuses at once: 429 before the stream starts) and claim a slot before
// their provider call; a slot comes back on yield (the holder keeps its place, to claim
// again), a place on release or when its holder dies.
//
// The table is shared (limiter_gauges, in the engine context) so that what most requests
// do is decided on the holder's own thread under the table's lock, with no message: a
// place when there is room, a slot when one is free and nobody waits, a slot or place
// given back. The limiter actor does the rest: a claim that waits for its turn (answered
// when a slot comes to it, in FIFO order: a claim never takes a slot while someone
// waits), a reserve or claim that may be refused (it counts refusals), the answers to
// waiters whose slot was freed on another thread, and the cluster's capacity changes.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

// Whether a newcomer would find no place, from the published occupancy: the limiter's
// own check, and the engine's fast path that refuses on the connection's thread without
// a message (under a race it may admit one too many; the limiter then refuses it).
std::optional<core::error> no_room(const engine_context& context, const limiter_gauges& gauges,
                                   const core::provider_limit& limit);

// `gauges` must outlive the actor (they live in the context): they hold its table.
limiter_actor spawn_limiter(caf::actor_system& system, std::shared_ptr<engine_context> context,
                            core::provider_limit limit, limiter_gauges* gauges);

// Whether `holder` got its place (reserve) or slot (claim) here and now, with no message.
// A claim that must wait has joined the queue when this says false, so its turn is kept
// from the moment it asked; the limiter's answer to the claim comes when the turn does.
// False also when there may be no room (the limiter decides, and counts, a refusal).
bool admitted_here(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
                   reserve_atom, const caf::actor& holder);
bool admitted_here(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
                   claim_atom, const caf::actor& holder);

// A place (reserve_atom) or slot (claim_atom) for `holder`: `then(admission&)` runs at once
// when it is decided here, else with the limiter's answer.
template <class Self, class Atom, class F>
void admit(Self* self, const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
           Atom what, const caf::actor& holder, F then) {
  if (admitted_here(context, limiter, what, holder)) {
    admission admitted;
    return then(admitted);
  }
  self->request(limiter, caf::infinite, what, holder).then(std::move(then));
}

// `holder` gives its slot back and keeps its place (yield_atom), or gives both back
// (release_atom), here; the limiter hears of it only when a waiter gets the slot.
void give_back(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
               yield_atom, const caf::actor& holder);
void give_back(const std::shared_ptr<engine_context>& context, const limiter_actor& limiter,
               release_atom, const caf::actor& holder);

}  // namespace askd::actors
