// actors/call_supervisor.hpp — one per generation, between the session and its provider
// calls (DESIGN.md "Supervision semantics"). While no text has reached the client, a
// retryable failure (timeout, upstream, rate_limited) is retried up to
// upstream.max_attempts with backoff (1 s, 2 s, 4 s by default, +-20% jitter) or the
// provider's Retry-After; a context-length failure is retried once without the retrieved
// context (reported as degraded "retrieval"). Anything else, and any failure after text
// went out, is handed to the session unchanged: text is never repeated.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "providers/provider.hpp"

namespace askd::actors {

struct supervised_generation {
  std::shared_ptr<const providers::provider> provider;
  providers::generation_request request;              // the full prompt
  std::optional<providers::generation_request> lean;  // the prompt without retrieved context
  // Providers handed over to, in order, when this one still fails after its retries
  // and no text has gone out; each with the model it is asked for.
  std::vector<std::pair<std::shared_ptr<const providers::provider>, std::string>> fallbacks;
  // For an offline fallback (`local`): the answer it would write.
  std::vector<std::string> local_answer;
};

// Linked to `parent`: when the session dies, the supervisor and its calls die with it.
call_supervisor_actor spawn_call_supervisor(caf::local_actor& parent,
                                            std::shared_ptr<engine_context> context,
                                            supervised_generation generation,
                                            generation_listener_actor listener);

// The delay before retry `attempt` (1 = the first retry): base * 2^(attempt-1), scaled by
// `jitter` in [0.8, 1.2].
std::chrono::milliseconds backoff_delay(int attempt, int base_ms, double jitter);

}  // namespace askd::actors
