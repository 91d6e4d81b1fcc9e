// rag/prompt.hpp — the prompt, assembled like deepwiki-open's chat prompt: a system
// prompt (language, no preamble, no speculation, grounded in the code), the
// conversation as native turns, then the question with whatever context retrieval
// found. Pure: inputs in, messages out.
#pragma once

#include <string>
#include <vector>

#include "core/chat_request.hpp"
#include "rag/chunk.hpp"
#include "rag/research.hpp"

namespace askd::rag {

struct prompt_inputs {
  const core::chat_request* request = nullptr;
  std::string language_name;           // "Japanese (日本語)"
  std::vector<context_chunk> context;  // ranked, best first; may be empty
  std::string file_content;            // the request's filePath, when given
  // A deep research round (rag/research.hpp): its instructions close the system prompt,
  // and no turn carries the tag. Inactive: a plain question.
  research_round research;
  bool heading_written = false;  // askd wrote the round's heading (server-driven rounds)
};

std::string system_prompt(const core::chat_request& request, const std::string& language_name);

// System prompt, then the history (the client's system messages kept as system turns),
// then the last user message carrying file content and context before the question.
std::vector<core::chat_message> assemble_prompt(const prompt_inputs& in);

// "owner/repo" from a URL, or the last path component of a local path.
std::string repo_name(const std::string& repo_url);

}  // namespace askd::rag
