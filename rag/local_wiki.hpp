// rag/local_wiki.hpp — the `local` provider's answer to deepwiki-open's wiki-structure
// prompt. deepwiki-open's frontend asks its model for a <wiki_structure> XML built from
// the repository's file tree and README, which it sends in the prompt; with no model,
// askd builds one from that tree itself: an overview page (README and the top-level
// files) and a page per top-level directory, the largest first. So the frontend works
// whole on askd's offline default; each page is then written by the extractive answer.
#pragma once

#include <optional>
#include <string>

namespace askd::rag {

// The structure, when `prompt` is deepwiki-open's wiki-structure prompt (it holds
// <file_tree>...</file_tree> and asks for <wiki_structure>); nullopt otherwise.
std::optional<std::string> local_wiki_structure(const std::string& prompt);

}  // namespace askd::rag
