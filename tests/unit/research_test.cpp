// Deep research as deepwiki-open's client drives it: round numbering, the prompt kind
// of each round, and the follow-up that continues the latest question (bug #589).
#include <catch2/catch.hpp>

#include "rag/prompt.hpp"
#include "rag/research.hpp"

using namespace askd;
using namespace askd::rag;

namespace {
std::vector<core::chat_message> conversation(int answers, const std::string& last) {
  std::vector<core::chat_message> m{{"user", "[DEEP RESEARCH] How does the index build?"}};
  for (int i = 0; i < answers; ++i) {
    m.push_back({"assistant", "round " + std::to_string(i + 1)});
    m.push_back({"user", i + 1 < answers ? "[DEEP RESEARCH] Continue the research" : last});
  }
  return m;
}
}  // namespace

TEST_CASE("research rounds count the assistant's answers - plan - updates - conclusion") {
  CHECK_FALSE(research_of({{"user", "How does the index build?"}}).active);
  auto first = research_of(conversation(0, ""));
  CHECK(first.active);
  CHECK(first.round == 1);
  CHECK(first.kind == research_kind::plan);
  CHECK(first.topic == "How does the index build?");
  CHECK(research_heading(first) == "## Research Plan");
  for (int answers = 1; answers <= 3; ++answers) {
    auto r = research_of(conversation(answers, "[DEEP RESEARCH] Continue the research"));
    CHECK(r.round == answers + 1);
    CHECK(r.kind == research_kind::update);
    CHECK(research_heading(r) == "## Research Update " + std::to_string(answers + 1));
    CHECK(r.topic == "How does the index build?");
  }
  for (int answers : {4, 6}) {
    auto r = research_of(conversation(answers, "[DEEP RESEARCH] Continue the research"));
    CHECK(r.kind == research_kind::conclusion);
    CHECK(research_heading(r) == "## Final Conclusion");
  }
  CHECK(research_of(conversation(2, "[DEEP RESEARCH] Continue the research"), 3).kind ==
        research_kind::conclusion);  // max_rounds 3
}

TEST_CASE("continue the research continues the latest research question - not the first") {
  auto m = conversation(2, "[DEEP RESEARCH] Continue the research");
  m.push_back({"assistant", "round 3"});
  m.push_back({"user", "[DEEP RESEARCH] And how are queries ranked?"});
  m.push_back({"assistant", "round 4"});
  m.push_back({"user", "[DEEP RESEARCH] continue the research."});
  auto r = research_of(m);
  CHECK(r.topic == "And how are queries ranked?");
}

TEST_CASE("a research round's prompt asks for its heading - and no turn keeps the tag") {
  core::chat_request req;
  req.repo_url = "https://github.com/a/b";
  req.messages = conversation(1, "[DEEP RESEARCH] Continue the research");
  prompt_inputs in;
  in.request = &req;
  in.language_name = "English";
  auto p = assemble_prompt(in);
  REQUIRE(p.size() == 4);
  CHECK(p[0].content.find("Start your answer with the heading \"## Research Update 2\"") !=
        std::string::npos);
  CHECK(p[0].content.find("deep research (at most 5 rounds) into: How does the index build?") !=
        std::string::npos);
  for (const auto& m : p) CHECK(m.content.find("[DEEP RESEARCH]") == std::string::npos);
  CHECK(p[3].content == "Continue the research\n(Research topic: How does the index build?)");
}
