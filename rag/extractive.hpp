// rag/extractive.hpp — the `local` provider's answer: no model, only the repository. The
// best-matching places, best first, each with a one-line note drawn from the code (a
// nearby comment, the names it defines) and an excerpt in a fenced block. It says
// plainly that it is extractive.
#pragma once

#include <string>
#include <vector>

#include "rag/chunk.hpp"

namespace askd::rag {

// The answer as pieces to stream in order.
std::vector<std::string> extractive_answer(const std::string& question,
                                           const std::vector<context_chunk>& ranked,
                                           const std::string& repo, std::size_t max_sections = 5);

// What the local provider says it will look at next in a research round: names the
// excerpts use that the question did not mention, the most used first, as a line
// "Next: `a`, `b`, `c`." ("Next: nothing" when there is none).
std::string extractive_leads(const std::string& question, const std::vector<context_chunk>& ranked,
                             std::size_t n = 4);

}  // namespace askd::rag
