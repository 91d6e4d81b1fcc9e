#include "rag/chunker.hpp"

#include <algorithm>

namespace askd::rag {
namespace {

struct line_info {
  std::string_view text;
  int words = 0;
  int depth_after = 0;  // brace depth after the line
  bool blank = false;
  bool heading = false;  // Markdown "# ..."
};

int count_words(std::string_view s) {
  int n = 0;
  bool in = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\t' || c == '\r';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// How good a cut after line i is: higher is better; 0 means "only if we must".
int cut_quality(const std::vector<line_info>& lines, std::size_t i, bool markdown) {
  if (i + 1 >= lines.size()) return 4;
  const auto& next = lines[i + 1];
  if (markdown && next.heading) return 4;
  if (lines[i].blank && lines[i].depth_after == 0) return 3;
  if (lines[i].depth_after == 0 && !lines[i].text.empty() &&
      lines[i].text.find('}') != std::string_view::npos)
    return 3;  // a top-level block just closed
  if (lines[i].blank) return 2;
  if (lines[i].depth_after <= 1 && lines[i].text.find('}') != std::string_view::npos) return 1;
  return 0;
}

}  // namespace

std::vector<context_chunk> chunk_file(const std::string& path, std::string_view text, int words,
                                      int overlap) {
  std::vector<line_info> lines;
  bool markdown = ends_with(path, ".md") || ends_with(path, ".rst");
  int depth = 0;
  while (!text.empty() || lines.empty()) {
    auto end = text.find('\n');
    line_info li;
    li.text = text.substr(0, end);
    li.words = count_words(li.text);
    li.blank = li.words == 0;
    li.heading = markdown && !li.text.empty() && li.text[0] == '#';
    for (char c : li.text) {
      if (c == '{') ++depth;
      if (c == '}' && depth > 0) --depth;
    }
    li.depth_after = depth;
    lines.push_back(li);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }

  std::vector<context_chunk> out;
  std::size_t start = 0;
  while (start < lines.size()) {
    // Grow to the target size; then look back over the last 40% for the best cut.
    int total = 0;
    std::size_t i = start;
    while (i < lines.size() && (total < words || i == start)) total += lines[i++].words;
    std::size_t end = i;  // exclusive
    if (end < lines.size()) {
      int budget = 0;
      std::size_t best = end - 1;
      int best_q = -1;
      for (std::size_t j = end - 1; j > start; --j) {
        budget += lines[j].words;
        if (budget > words * 2 / 5) break;
        int q = cut_quality(lines, j, markdown);
        if (q > best_q) best_q = q, best = j;
        if (q >= 4) break;
      }
      // Past the target, a better cut may be a few lines on: take it if close.
      int extra = 0;
      for (std::size_t j = end; j < lines.size() && extra <= words / 5; ++j) {
        extra += lines[j].words;
        int q = cut_quality(lines, j, markdown);
        if (q > best_q && q >= 3) {
          best_q = q, best = j;
          break;
        }
      }
      end = best + 1;
    }
    context_chunk c;
    c.path = path;
    c.start_line = static_cast<int>(start) + 1;
    c.end_line = static_cast<int>(end);
    std::size_t from = static_cast<std::size_t>(lines[start].text.data() - lines[0].text.data());
    std::size_t to = static_cast<std::size_t>(lines[end - 1].text.data() - lines[0].text.data()) +
                     lines[end - 1].text.size();
    c.text = std::string(lines[0].text.data() + from, to - from);
    // Skip chunks of nothing but blank lines.
    if (count_words(c.text) > 0) out.push_back(std::move(c));
    if (end >= lines.size()) break;
    // The next chunk starts `overlap` words back, but always after this one's start.
    std::size_t next = end;
    int back = 0;
    while (next > start + 1 && back < overlap) back += lines[--next].words;
    start = std::max(next, start + 1);
  }
  return out;
}

}  // namespace askd::rag
