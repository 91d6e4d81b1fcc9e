#include "rag/prompt.hpp"

#include "rag/repo_source.hpp"

namespace askd::rag {

namespace {

// The repository's name within its URL: the path after the host, or the last segment of
// a local path, without trailing slashes or ".git".
std::string_view repo_name_view(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.size() > 4 && s.substr(s.size() - 4) == ".git") s.remove_suffix(4);
  auto scheme = s.find("://");
  if (scheme != std::string_view::npos) {
    auto path = s.find('/', scheme + 3);
    if (path == std::string_view::npos) return s.substr(scheme + 3);
    return s.substr(path + 1);
  }
  auto slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

}  // namespace

std::string repo_name(const std::string& repo_url) {
  return std::string(repo_name_view(repo_url));
}

std::string system_prompt(const core::chat_request& request, const std::string& language_name) {
  static constexpr std::string_view rules =
      ".\n\n"
      "Rules:\n"
      "- Respond in ";
  static constexpr std::string_view rest =
      ". The whole answer must be in this language.\n"
      "- Answer directly. No preamble (\"Okay\", \"Sure\", \"Here is\"), no closing offers.\n"
      "- Ground every statement in the repository's code and the context you are given; cite "
      "file paths, with line numbers when you have them.\n"
      "- Do not speculate. When the context does not answer the question, say so plainly and "
      "say what you would need to look at.\n"
      "- Format the answer in Markdown: headings, lists, and fenced code blocks with a language "
      "tag.";
  std::string_view intro = "You are an expert software engineer answering questions about the ";
  std::string_view kind = is_local_repo(request) ? std::string_view("local") : request.type;
  auto name = repo_name_view(request.repo_url);
  // One buffer of the exact size: the prompt is built for every question.
  std::string p;
  p.reserve(intro.size() + kind.size() + 12 + request.repo_url.size() + 2 + name.size() + 1 +
            rules.size() + language_name.size() + rest.size());
  p += intro;
  p += kind;
  p += " repository ";
  p += request.repo_url;
  p += " (";
  p += name;
  p += ')';
  p += rules;
  p += language_name;
  p += rest;
  return p;
}

std::vector<core::chat_message> assemble_prompt(const prompt_inputs& in) {
  const auto& req = *in.request;
  std::vector<core::chat_message> out;
  out.reserve(req.messages.size() + 1);
  // The tag is nobody's words, so no turn carries it.
  const auto& research = in.research;
  auto system = system_prompt(req, in.language_name);
  if (research.active)
    system += research_instructions(research, req.max_rounds, in.heading_written);
  out.push_back({"system", std::move(system)});
  for (std::size_t i = 0; i + 1 < req.messages.size(); ++i) {
    out.push_back(req.messages[i]);
    if (research.active) out.back().content = strip_research_tag(out.back().content);
  }

  std::string last;
  if (!in.file_content.empty()) {
    last += "<currentFileContent path=\"" + req.file_path + "\">\n" + in.file_content +
            "\n</currentFileContent>\n\n";
  }
  if (!in.context.empty()) {
    // Grouped by file, in rank order of each file's best chunk.
    last += "<context>\n";
    std::vector<bool> used(in.context.size(), false);
    for (std::size_t i = 0; i < in.context.size(); ++i) {
      if (used[i]) continue;
      const auto& path = in.context[i].path;
      last += "## File: " + path + "\n";
      for (std::size_t j = i; j < in.context.size(); ++j) {
        if (used[j] || in.context[j].path != path) continue;
        used[j] = true;
        const auto& c = in.context[j];
        last += "Lines " + std::to_string(c.start_line) + "-" + std::to_string(c.end_line) +
                ":\n```\n" + c.text + "\n```\n";
      }
      last += "\n";
    }
    last += "</context>\n\n";
  }
  auto question = research.active ? strip_research_tag(req.messages.back().content)
                                  : req.messages.back().content;
  if (research.active && question != research.topic)  // "Continue the research"
    question += "\n(Research topic: " + research.topic + ")";
  if (last.empty()) {
    last = question;
  } else {
    last += "<question>\n" + question + "\n</question>";
  }
  out.push_back({"user", std::move(last)});
  return out;
}

}  // namespace askd::rag
