// actors/provider_call.hpp — one upstream HTTP call: registers a curl handle with the
// engine, whose thread decodes the streamed body and offers each delta to the
// generation's output as attempt `attempt`; the actor watches the deadlines and dies
// with a classified error or a summary to its listener. Killing it removes the curl
// handle at once.
#pragma once

#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "providers/provider.hpp"

namespace askd::actors {

// Spawned linked to `parent`, which receives its output: when the parent dies, the
// call dies with it and the upstream connection is closed. Its first-token and idle
// deadlines are timers on `timers`. `request` is `provider`'s build of the prompt (built
// by the caller, which holds the prompt: the call then needs no copy of it).
provider_call_actor spawn_provider_call(caf::local_actor& parent,
                                        std::shared_ptr<engine_context> context, never_actor timers,
                                        std::shared_ptr<const providers::provider> provider,
                                        providers::upstream_request request,
                                        std::shared_ptr<generation_output> output, int attempt,
                                        generation_listener_actor listener);

}  // namespace askd::actors
