#include "rag/research.hpp"

#include <algorithm>
#include <cctype>

namespace askd::rag {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "Continue the research", as deepwiki-open's client sends it for the next round: a
// message that starts so (any case) asks nothing new, whatever follows.
bool is_continuation(std::string_view text) {
  auto t = trim(text);
  constexpr std::string_view phrase = "continue the research";
  if (t.size() < phrase.size()) return false;
  for (std::size_t i = 0; i < phrase.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(t[i])) != phrase[i]) return false;
  return true;
}

}  // namespace

std::string strip_research_tag(std::string_view text) {
  std::string out(text);
  for (auto at = out.find(research_tag); at != std::string::npos; at = out.find(research_tag))
    out.erase(at, research_tag.size());
  return std::string(trim(out));
}

research_round research_of(const std::vector<core::chat_message>& messages, int max_rounds) {
  research_round r;
  for (const auto& m : messages)
    if (m.content.find(research_tag) != std::string::npos) r.active = true;
  if (!r.active) return r;
  r.round = 1 + static_cast<int>(std::count_if(messages.begin(), messages.end(), [](const auto& m) {
              return m.role == "assistant";
            }));
  r.kind = r.round <= 1            ? research_kind::plan
           : r.round >= max_rounds ? research_kind::conclusion
                                   : research_kind::update;
  // The latest user message that asks something: a continuation asks nothing new.
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role != "user") continue;
    auto text = strip_research_tag(it->content);
    if (text.empty() || is_continuation(text)) continue;
    r.topic = std::move(text);
    break;
  }
  if (r.topic.empty() && !messages.empty()) r.topic = strip_research_tag(messages.back().content);
  return r;
}

std::string research_heading(const research_round& r) {
  switch (r.kind) {
    case research_kind::plan:
      return "## Research Plan";
    case research_kind::update:
      return "## Research Update " + std::to_string(r.round);
    case research_kind::conclusion:
      break;
  }
  return "## Final Conclusion";
}

std::string research_instructions(const research_round& r, int max_rounds) {
  std::string p = "\n\nThis is round " + std::to_string(r.round) + " of a deep research (at most " +
                  std::to_string(max_rounds) + " rounds) into: " + r.topic + "\n";
  switch (r.kind) {
    case research_kind::plan:
      p += "- Start your answer with the heading \"" + research_heading(r) +
           "\".\n"
           "- Lay out how you will investigate the topic: the parts of the code involved and "
           "the questions to answer about each.\n"
           "- Give the first findings the context supports.\n"
           "- End with what you will look at next.";
      break;
    case research_kind::update:
      p += "- Start your answer with the heading \"" + research_heading(r) +
           "\".\n"
           "- Build on the earlier rounds in this conversation without repeating them: "
           "investigate what they said to look at next and add only new findings.\n"
           "- End with what you will look at next.\n"
           "- Never answer with just \"Continue the research\": give findings.";
      break;
    case research_kind::conclusion:
      p += "- Start your answer with the heading \"" + research_heading(r) +
           "\".\n"
           "- Synthesize every round of this conversation into one complete answer to the "
           "topic, citing the code.\n"
           "- Do not announce further research: this is the last round.";
      break;
  }
  return p;
}

}  // namespace askd::rag
