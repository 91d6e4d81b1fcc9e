// actors/local_call.hpp — the `local` provider's "call": streams an extractive answer
// (already written from the retrieved chunks) to its listener one piece per message,
// then finishes like a provider_call. Linked to its parent like a provider_call.
#pragma once

#include <string>
#include <vector>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

local_call_actor spawn_local_call(caf::local_actor& parent, std::shared_ptr<engine_context> context,
                                  std::vector<std::string> pieces,
                                  generation_listener_actor listener);

}  // namespace askd::actors
