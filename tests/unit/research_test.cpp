// Deep research rounds: numbering, the prompt kind of each round, the follow-up that
// continues the latest question (bug #589), what a round says it looks at next, and
// the heading a model writes although askd wrote it.
#include <catch2/catch.hpp>

#include "core/tokens.hpp"
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
  in.research = research_of(req.messages);
  auto p = assemble_prompt(in);
  REQUIRE(p.size() == 4);
  CHECK(p[0].content.find("Start your answer with the heading \"## Research Update 2\"") !=
        std::string::npos);
  CHECK(p[0].content.find("deep research (at most 5 rounds) into: How does the index build?") !=
        std::string::npos);
  for (const auto& m : p) CHECK(m.content.find("[DEEP RESEARCH]") == std::string::npos);
  CHECK(p[3].content == "Continue the research\n(Research topic: How does the index build?)");
}

TEST_CASE("a continuation retrieves for what the round before said to look at next") {
  auto m = conversation(1, "[DEEP RESEARCH] Continue the research");
  m[1].content =
      "## Research Plan\n\nThe build walks the tree.\n\nNext: the `chunker` and its overlap.";
  auto r = research_of(m);
  CHECK(r.query == "the `chunker` and its overlap.");
  CHECK(r.topic == "How does the index build?");
  m[1].content = "## Research Plan\n\nNo next line here.";
  CHECK(research_of(m).query == "How does the index build?");
  // A new question is retrieved for itself, whatever the last answer said.
  m[1].content = "Next: the chunker";
  m.back().content = "[DEEP RESEARCH] How are queries ranked?";
  CHECK(research_of(m).query == "How are queries ranked?");
}

TEST_CASE("next_focus reads the last next line outside code - or nothing") {
  CHECK(next_focus("Findings.\n\nNext: `bm25` scoring") == "`bm25` scoring");
  CHECK(next_focus("Findings.\n**Next:** the limiter") == "the limiter");
  CHECK(next_focus("### Next steps\n- the retriever\n- the registry\n") ==
        "the retriever the registry");
  CHECK(next_focus("Next, I will read the registry.").empty());  // asked for "Next:"
  CHECK(next_focus("Next: the hub\n\nSources: a.cpp") == "the hub");
  CHECK(next_focus("Next:\n\n- the hub\n## Notes") == "the hub");
  CHECK(next_focus("Next: no further work needed.").empty());
  CHECK(next_focus("Next: first\nmore\n\nNext: second") == "second");
  CHECK(next_focus("Next: nothing, the topic is covered.").empty());
  CHECK(next_focus("Next: none").empty());
  CHECK(next_focus("No plan at all.").empty());
  CHECK(next_focus("Text.\n```\nnext = items.pop()\n```\n").empty());
  CHECK(next_focus("Nextcloud is unrelated.").empty());
  CHECK(next_focus("Next step").empty());
  // An excerpt fenced longer than the fences it holds (cut mid-block): still code.
  CHECK(next_focus("````markdown\n```sh\nNext: not this\n````\n\nNext: `hub`") == "`hub`");
  CHECK(next_focus("~~~\nnext()\n~~~\nNext: the sink") == "the sink");
}

TEST_CASE("the last round is always the conclusion - even the first of one") {
  CHECK(research_kind_of(1, 1) == research_kind::conclusion);
  CHECK(research_kind_of(1, 5) == research_kind::plan);
  CHECK(research_kind_of(4, 5) == research_kind::update);
  CHECK(research_kind_of(5, 5) == research_kind::conclusion);
  CHECK(std::string(to_string(research_kind::update)) == "update");
  CHECK(concludes("## Research Update 3\n\n## Final Conclusion\nDone."));
  CHECK_FALSE(concludes("## Research Update 3\nThe final conclusion comes later."));
  CHECK_FALSE(concludes("An excerpt:\n````md\n## Final Conclusion\n````\nNext: more"));
}

TEST_CASE("a heading askd wrote is asked not to be written again") {
  core::chat_request req;
  req.repo_url = "https://github.com/a/b";
  req.messages = conversation(0, "");
  prompt_inputs in;
  in.request = &req;
  in.language_name = "English";
  in.research = research_of(req.messages);
  in.heading_written = true;
  auto p = assemble_prompt(in);
  CHECK(p[0].content.find("follows the heading \"## Research Plan\", already written") !=
        std::string::npos);
  CHECK(p[0].content.find("Start your answer with the heading") == std::string::npos);
  CHECK(p[0].content.find("End with a line \"Next: ...\"") != std::string::npos);
}

TEST_CASE("a model's copy of the round's heading at the start is found - whatever splits it") {
  const std::string update2 = "## Research Update 2";
  CHECK(leading_heading_bytes("## Research Update 2\n\nThe", false, update2) == std::size_t(22));
  CHECK(leading_heading_bytes("\n### research update 2:\nX", false, update2) == std::size_t(24));
  CHECK(leading_heading_bytes("## Final Conclusion", true, "## Final Conclusion") ==
        std::size_t(19));
  CHECK_FALSE(leading_heading_bytes("## Research Upd", false, update2).has_value());
  CHECK(leading_heading_bytes("## Research Upd", true, update2) == std::size_t(15));  // cut
  // The blank space after it may still come.
  CHECK_FALSE(leading_heading_bytes("## Research Update 2\n", false, update2).has_value());
  CHECK_FALSE(leading_heading_bytes("  \n", false, update2).has_value());
  CHECK(leading_heading_bytes("  \n", true, update2) == std::size_t(3));  // only space: dropped
  CHECK(leading_heading_bytes("The answer", false, update2) == std::size_t(0));
  CHECK(leading_heading_bytes("## Retry policy\nText", false, update2) == std::size_t(0));
  // Another heading is the model's own: an early conclusion, a summary of its own.
  CHECK(leading_heading_bytes("## Final Conclusion\nAll.", false, update2) == std::size_t(0));
  CHECK(leading_heading_bytes("## Conclusions on retries\n", false, "## Final Conclusion") ==
        std::size_t(0));
  CHECK(leading_heading_bytes("## Research Update 3\n", false, update2) == std::size_t(0));
}

TEST_CASE("earlier rounds past their budget are shortened - oldest first - the latest whole") {
  std::string filler;
  for (int i = 0; i < 200; ++i) filler += "finding ";
  std::vector<std::string> rounds{"## Research Plan\n\n" + filler + "\n\nNext: the hub",
                                  "## Research Update 2\n\n" + filler + "\n\nNext: nothing",
                                  "## Research Update 3\n\n" + filler};
  CHECK(fit_rounds(rounds, 0) == rounds);
  CHECK(fit_rounds(rounds, 100000) == rounds);
  auto fitted = fit_rounds(rounds, 500);
  REQUIRE(fitted.size() == 3);
  CHECK(
      fitted[0] ==
      "## Research Plan\n\n(This round is shortened to fit the model's window.)\n\nNext: the hub");
  CHECK(fitted[1] ==
        "## Research Update 2\n\n(This round is shortened to fit the model's window.)");
  CHECK(fitted[2] == rounds[2]);  // the latest stays whole, whatever the budget
  auto one = fit_rounds(rounds, 1);
  CHECK(one[2] == rounds[2]);
  // Only as many as needed.
  auto some = fit_rounds(rounds, static_cast<std::int64_t>(core::count_tokens(rounds[1]) +
                                                           core::count_tokens(rounds[2]) + 40));
  CHECK(some[0] != rounds[0]);
  CHECK(some[1] == rounds[1]);
}
