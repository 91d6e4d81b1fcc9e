// actors/call_supervisor.hpp — one per generation, between the session and its provider
// calls (DESIGN.md "Supervision semantics"):
// - a retryable failure (timeout, upstream, rate_limited) is retried up to
//   upstream.max_attempts with backoff (1 s, 2 s, 4 s by default, +-20% jitter) or the
//   provider's Retry-After, never past the request's deadline;
// - a context-length failure is retried once without the retrieved context (degraded
//   "retrieval");
// - a provider still failing before any text hands over to the next of the fallback
//   chain (degraded "fallback:<id>"), after a slot from that provider's limiter;
// - a failure after text went out is continued: the next attempt gets the partial answer
//   and is asked to go on, and what it repeats of the end of that answer is trimmed
//   (degraded "continued"); a provider that cannot continue ends with the error, so the
//   client has a prefix of the answer and the error, never repeated text.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "actors/context.hpp"
#include "actors/generation_output.hpp"
#include "actors/messages.hpp"
#include "providers/provider.hpp"

namespace askd::actors {

// Starts one attempt: spawns the actor that calls the provider (linked to `self`), which
// offers its text to `output` as attempt number `attempt` and reports its end to
// `listener`. Tests replace it to script what an attempt does.
using attempt_spawner = std::function<caf::actor_addr(
    caf::local_actor& self, const std::shared_ptr<const providers::provider>& provider,
    const providers::generation_request& request, const std::shared_ptr<generation_output>& output,
    int attempt, generation_listener_actor listener)>;

struct fallback_provider {
  std::shared_ptr<const providers::provider> provider;
  std::string model;
  limiter_actor limiter;
};

struct supervised_generation {
  std::shared_ptr<const providers::provider> provider;
  std::shared_ptr<generation_output> output;          // where the attempts' text goes
  providers::generation_request request;              // the full prompt
  std::optional<providers::generation_request> lean;  // the prompt without retrieved context
  // Providers handed over to, in order, when this one still fails after its retries
  // and no text has gone out.
  std::vector<fallback_provider> fallbacks;
  // For an offline fallback (`local`): the answer it would write.
  std::vector<std::string> local_answer;
  // Who holds the current provider's slot (the session), and that provider's limiter:
  // a hand-over releases it and claims one from the next provider's limiter.
  caf::actor holder;
  limiter_actor limiter;
  // No retry is started past this (the session ends the request there).
  caf::actor_clock::time_point deadline = caf::actor_clock::time_point::max();
  never_actor timers;             // for backoffs and the provider calls' deadlines
  attempt_spawner spawn_attempt;  // empty: the real provider_call / local_call
};

// Linked to `parent`: when the session dies, the supervisor and its calls die with it.
call_supervisor_actor spawn_call_supervisor(caf::local_actor& parent,
                                            std::shared_ptr<engine_context> context,
                                            supervised_generation generation,
                                            generation_listener_actor listener);

// The delay before retry `attempt` (1 = the first retry): base * 2^(attempt-1), scaled by
// `jitter` in [1 - upstream.backoff_jitter, 1 + upstream.backoff_jitter].
std::chrono::milliseconds backoff_delay(int attempt, int base_ms, double jitter);

// What a continuation attempt is asked, after the partial answer.
extern const char* const continue_instruction;

}  // namespace askd::actors
