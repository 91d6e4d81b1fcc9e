#include "rag/research.hpp"

#include <algorithm>
#include <cctype>

#include "core/tokens.hpp"
#include "rag/text.hpp"

namespace askd::rag {
namespace {

// "Continue the research", as deepwiki-open's client sends it for the next round: a
// message that starts so (any case) asks nothing new, whatever follows.
bool is_continuation(std::string_view text) {
  constexpr std::string_view phrase = "continue the research";
  return lower(trim(text).substr(0, phrase.size())) == phrase;
}

bool starts_with_word(std::string_view text, std::string_view word) {
  return text.size() >= word.size() && lower(text.substr(0, word.size())) == word &&
         (text.size() == word.size() ||
          !std::isalnum(static_cast<unsigned char>(text[word.size()])));
}

// A line without the Markdown around its start: heading marks, emphasis, bullets, quotes.
std::string_view unmarked(std::string_view line) {
  line = trim(line);
  while (!line.empty() &&
         std::string_view("#*>-_+ \t").find(line.front()) != std::string_view::npos)
    line.remove_prefix(1);
  return line;
}

// The lines of `text` outside fenced code blocks. A fence closes with the same
// character, at least as long as the one that opened it (CommonMark), so an excerpt
// fenced with ```` may hold ``` lines.
std::vector<std::string_view> prose_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::string fence;  // the open fence, "" outside code
  for (auto line : split_lines(text)) {
    auto t = trim(line);
    if (!t.empty() && (t.front() == '`' || t.front() == '~')) {
      auto run = t.find_first_not_of(t.front());
      auto n = run == std::string_view::npos ? t.size() : run;
      if (n >= 3) {
        if (fence.empty()) {
          fence.assign(n, t.front());
          continue;
        }
        if (t.front() == fence.front() && n >= fence.size() && run == std::string_view::npos) {
          fence.clear();
          continue;
        }
      }
    }
    if (fence.empty()) out.push_back(line);
  }
  return out;
}

// The words after "Next:", "**Next:**", "Next steps:" or a "Next steps" heading on a
// line; nullopt when the line is none of those.
std::optional<std::string_view> after_next(std::string_view line) {
  auto rest = unmarked(line);
  if (!starts_with_word(rest, "next")) return std::nullopt;
  rest.remove_prefix(4);
  auto skip = [&](std::string_view chars) {
    while (!rest.empty() && chars.find(rest.front()) != std::string_view::npos)
      rest.remove_prefix(1);
  };
  skip("*_ \t");
  if (starts_with_word(rest, "steps") || starts_with_word(rest, "step")) {
    rest.remove_prefix(starts_with_word(rest, "steps") ? 5 : 4);
    skip("*_ \t");
  }
  if (rest.empty()) return rest;  // a "Next steps" heading: what follows is under it
  if (rest.front() != ':') return std::nullopt;
  rest.remove_prefix(1);
  skip("*_ \t");
  return trim(rest);
}

// The most of a "Next:" that becomes a retrieval query.
constexpr std::size_t max_focus_bytes = 600;

}  // namespace

const char* to_string(research_kind k) {
  switch (k) {
    case research_kind::plan:
      return "plan";
    case research_kind::update:
      return "update";
    case research_kind::conclusion:
      break;
  }
  return "conclusion";
}

research_kind research_kind_of(int round, int max_rounds) {
  if (round >= max_rounds) return research_kind::conclusion;
  return round <= 1 ? research_kind::plan : research_kind::update;
}

std::string next_focus(std::string_view answer) {
  auto lines = prose_lines(answer);
  std::optional<std::size_t> found;
  std::string focus;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (auto rest = after_next(lines[i])) found = i, focus = std::string(*rest);
  if (!found) return {};
  // Then the lines under it, up to a blank line or a heading.
  for (auto i = *found + 1; i < lines.size() && focus.size() < max_focus_bytes; ++i) {
    auto t = trim(lines[i]);
    if (t.empty() && focus.empty()) continue;
    if (t.empty() || t.front() == '#') break;
    focus += (focus.empty() ? "" : " ") + std::string(unmarked(t));
  }
  if (focus.size() > max_focus_bytes) focus.resize(max_focus_bytes);
  auto l = lower(focus);
  for (std::string_view none : {"nothing", "none", "n/a", "no further", "no more"})
    if (l.rfind(none, 0) == 0) return {};
  return std::string(trim(focus));
}

bool concludes(std::string_view answer) {
  for (auto line : prose_lines(answer))
    if (trim(line).rfind("## Final Conclusion", 0) == 0) return true;
  return false;
}

std::optional<std::size_t> leading_heading_bytes(std::string_view text, bool final,
                                                 std::string_view heading) {
  // A heading as words: no marks, no case, no trailing colon.
  auto words = [](std::string_view line) {
    auto w = lower(trim(unmarked(line)));
    while (!w.empty() && (w.back() == ':' || w.back() == '*' ||
                          std::isspace(static_cast<unsigned char>(w.back()))))
      w.pop_back();
    return w;
  };
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  // Only space so far: nothing to keep if the attempt ends here (what follows a
  // failed attempt is a fresh start, filtered again).
  if (i == text.size()) return final ? std::optional<std::size_t>(text.size()) : std::nullopt;
  if (text[i] != '#') return 0;
  auto nl = text.find('\n', i);
  // A heading line is short: past this without its end, it is no heading of ours.
  constexpr std::size_t longest = 160;
  if (nl == std::string_view::npos && !final && text.size() - i < longest) return std::nullopt;
  auto end = nl == std::string_view::npos ? text.size() : nl + 1;
  auto line = words(text.substr(i, end - i));
  auto ours = words(heading);
  // A line cut short (its attempt failed) counts when it is the start of ours.
  bool same =
      line == ours || (nl == std::string_view::npos && !line.empty() && ours.rfind(line, 0) == 0);
  if (!same) return 0;
  while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end]))) ++end;
  // The blank space after it may still be arriving.
  if (end == text.size() && !final) return std::nullopt;
  return end;
}

std::vector<std::string> fit_rounds(std::vector<std::string> texts, std::int64_t budget) {
  if (budget <= 0) return texts;
  std::int64_t total = 0;
  for (const auto& t : texts) total += core::count_tokens(t);
  for (std::size_t i = 0; i + 1 < texts.size() && total > budget; ++i) {
    auto& t = texts[i];
    auto heading = t.substr(0, t.find('\n'));
    auto next = next_focus(t);
    auto shortened = heading + "\n\n(This round is shortened to fit the model's window.)" +
                     (next.empty() ? "" : "\n\nNext: " + next);
    total += core::count_tokens(shortened) - core::count_tokens(t);
    t = std::move(shortened);
  }
  return texts;
}

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
  r.kind = research_kind_of(r.round, max_rounds);
  // The latest user message that asks something: a continuation asks nothing new.
  bool continuing = false;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role != "user") continue;
    auto text = strip_research_tag(it->content);
    if (text.empty() || is_continuation(text)) {
      continuing = continuing || it == messages.rbegin();
      continue;
    }
    r.topic = std::move(text);
    break;
  }
  if (r.topic.empty() && !messages.empty()) r.topic = strip_research_tag(messages.back().content);
  // A continuation looks where the round before said it would.
  if (continuing) {
    auto last = std::find_if(messages.rbegin(), messages.rend(),
                             [](const auto& m) { return m.role == "assistant"; });
    if (last != messages.rend()) r.query = next_focus(last->content);
  }
  if (r.query.empty()) r.query = r.topic;
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

std::string research_instructions(const research_round& r, int max_rounds, bool heading_written) {
  std::string p = "\n\nThis is round " + std::to_string(r.round) + " of a deep research (at most " +
                  std::to_string(max_rounds) + " rounds) into: " + r.topic + "\n";
  p += heading_written ? "- Your answer follows the heading \"" + research_heading(r) +
                             "\", already written: do not write it again.\n"
                       : "- Start your answer with the heading \"" + research_heading(r) + "\".\n";
  switch (r.kind) {
    case research_kind::plan:
      p += "- Lay out how you will investigate the topic: the parts of the code involved and "
           "the questions to answer about each.\n"
           "- Give the first findings the context supports.\n"
           "- End with a line \"Next: ...\" naming what you will look at next (files, "
           "functions, questions).";
      break;
    case research_kind::update:
      p += "- Build on the earlier rounds in this conversation without repeating them: "
           "investigate what they said to look at next and add only new findings.\n"
           "- End with a line \"Next: ...\" naming what you will look at next, or \"Next: "
           "nothing\" when the topic is fully investigated.\n"
           "- Never answer with just \"Continue the research\": give findings.";
      break;
    case research_kind::conclusion:
      p += "- Synthesize every round of this conversation into one complete answer to the "
           "topic, citing the code.\n"
           "- Do not announce further research: this is the last round.";
      break;
  }
  return p;
}

}  // namespace askd::rag
