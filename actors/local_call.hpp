// actors/local_call.hpp — the `local` provider's "call": offers an extractive answer
// (already written from the retrieved chunks) to the generation's output one piece per
// message to itself (so a cancel lands between pieces), then finishes like a
// provider_call. Linked to its parent like a provider_call.
#pragma once

#include <string>
#include <vector>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace askd::actors {

local_call_actor spawn_local_call(caf::local_actor& parent, std::shared_ptr<engine_context> context,
                                  std::vector<std::string> pieces,
                                  std::shared_ptr<generation_output> output, int attempt,
                                  generation_listener_actor listener);

}  // namespace askd::actors
