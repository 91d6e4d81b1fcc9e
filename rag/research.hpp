// rag/research.hpp — deep research as deepwiki-open's client drives it: any message
// carrying `[DEEP RESEARCH]` makes the conversation an investigation, its round is the
// number of assistant messages + 1, round 1 asks for a "## Research Plan", rounds N up to
// max_rounds - 1 for "## Research Update N", round max_rounds and later for "## Final
// Conclusion". The topic is the latest research question the user asked: a follow-up
// "Continue the research" continues that one, not the first question of the history
// (deepwiki-open's bug #589). Pure: messages in, the round out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/chat_request.hpp"

namespace askd::rag {

inline constexpr std::string_view research_tag = "[DEEP RESEARCH]";

enum class research_kind { plan, update, conclusion };

struct research_round {
  bool active = false;  // some message carries the tag
  int round = 0;        // 1-based
  research_kind kind = research_kind::plan;
  std::string topic;  // the research question, tag removed
};

research_round research_of(const std::vector<core::chat_message>& messages, int max_rounds = 5);

// The heading a round's answer starts with: "## Research Plan", "## Research Update N",
// "## Final Conclusion" (what deepwiki-open's client parses its stages from).
std::string research_heading(const research_round& r);

// `text` without the tag (and the spaces around it).
std::string strip_research_tag(std::string_view text);

// What the round asks of the model, appended to the system prompt: its heading, what
// to do in it, the topic.
std::string research_instructions(const research_round& r, int max_rounds = 5);

}  // namespace askd::rag
