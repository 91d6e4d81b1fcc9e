// core/tokens.hpp — token counts close to OpenAI's cl100k_base without its vocabulary:
// letter runs cost about one token per 4 characters (common short words one), digits
// one per 3, each other symbol one, whitespace folds into the next token. Within ~15%
// of cl100k on English and code; used to fit prompts into a model's window, where an
// estimate on the safe side is what matters.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/chat_request.hpp"

namespace askd::core {

std::int64_t count_tokens(std::string_view text);
// A whole prompt: the messages plus the few tokens each message's framing costs.
std::int64_t count_tokens(const std::vector<chat_message>& messages);

}  // namespace askd::core
