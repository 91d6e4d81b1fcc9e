// rag/research.hpp — deep research rounds. As deepwiki-open's client drives them: any
// message carrying `[DEEP RESEARCH]` makes the conversation an investigation, its round is
// the number of assistant messages + 1, round 1 asks for a "## Research Plan", rounds N up
// to max_rounds - 1 for "## Research Update N", round max_rounds and later for "## Final
// Conclusion". The topic is the latest research question the user asked: a follow-up
// "Continue the research" continues that one, not the first question of the history
// (deepwiki-open's bug #589). Each round after the first retrieves for what the round
// before said it would look at next (its "Next:" line), else for the topic. The server-
// driven investigation (actors/research.hpp) builds the same rounds itself. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat_request.hpp"

namespace askd::rag {

inline constexpr std::string_view research_tag = "[DEEP RESEARCH]";

enum class research_kind { plan, update, conclusion };

// "plan", "update", "conclusion": the v1 `stage` event's kind.
const char* to_string(research_kind k);

struct research_round {
  bool active = false;  // a research round (client-driven: some message carries the tag)
  int round = 0;        // 1-based
  research_kind kind = research_kind::plan;
  std::string topic;  // the research question, tag removed
  std::string query;  // what this round retrieves for: the last round's "Next:", else the topic
};

// The kind of round `round` of at most `max_rounds`: the last is always the conclusion.
research_kind research_kind_of(int round, int max_rounds);

research_round research_of(const std::vector<core::chat_message>& messages, int max_rounds = 5);

// What an answer says it will look at next: the text after its last "Next:" line (a
// "Next steps" heading: the lines under it), outside code blocks; "" when it names
// nothing ("Next: nothing", none at all).
std::string next_focus(std::string_view answer);

// Whether an answer has reached its conclusion (a "## Final Conclusion" heading).
bool concludes(std::string_view answer);

// How many bytes at the start of `text` are `heading` ("## Research Update 2", in any
// case, with any number of #) as a line of its own and the blank space after it: what a
// model wrote although askd had written the heading; all of `text` when it is only
// space and `final`. nullopt: too short to tell yet (unless `final`: the attempt ended).
std::optional<std::size_t> leading_heading_bytes(std::string_view text, bool final,
                                                 std::string_view heading);

// The heading a round's answer starts with: "## Research Plan", "## Research Update N",
// "## Final Conclusion" (what deepwiki-open's client parses its stages from).
std::string research_heading(const research_round& r);

// The earlier rounds' texts (heading first) as a research's next round sees them: when
// together they pass `budget` tokens, the oldest are shortened to their heading and
// "Next:" line, the latest always whole. `budget` <= 0: no limit.
std::vector<std::string> fit_rounds(std::vector<std::string> texts, std::int64_t budget);

// `text` without the tag (and the spaces around it).
std::string strip_research_tag(std::string_view text);

// What the round asks of the model, appended to the system prompt: its heading (or, when
// `heading_written`, that askd wrote it already), what to do in it, the topic.
std::string research_instructions(const research_round& r, int max_rounds = 5,
                                  bool heading_written = false);

}  // namespace askd::rag
