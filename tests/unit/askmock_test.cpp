#include <catch2/catch.hpp>

#include "apps/askmock/mock_service.hpp"

TEST_CASE("askmock splits answers at UTF-8 boundaries - never inside a character") {
  const std::string text = "aé日本語—z";
  for (std::size_t chunk = 1; chunk <= 8; ++chunk) {
    auto parts = askmock::split_deltas(text, chunk);
    std::string joined;
    for (const auto& p : parts) {
      CHECK_FALSE(p.empty());
      CHECK((static_cast<unsigned char>(p[0]) & 0xC0) != 0x80);
      joined += p;
    }
    CHECK(joined == text);
  }
  CHECK(askmock::default_text(3) == askmock::default_text(3));
  CHECK(askmock::default_text(24).size() > 50);
}

TEST_CASE("askmock answers a research round as its instructions ask - or not at all") {
  using askmock::chat_turn;
  auto system = [](const std::string& heading, bool written) {
    return chat_turn{"system",
                     "Rules.\n\nThis is round 2 of a deep research (at most 5 rounds) "
                     "into: How do retries work?\n- " +
                         std::string(written ? "Your answer follows the heading \""
                                             : "Start your answer with the heading \"") +
                         heading + (written ? "\", already written: do not." : "\".")};
  };
  std::vector<chat_turn> turns{system("## Research Update 2", false),
                               {"user", "<context>\n## File: src/a.cpp\nx\n## File: b.py\n"},
                               {"assistant", "Round 2 (upd"},
                               {"user", "Your previous answer was cut off. Continue it."}};
  CHECK(askmock::research_round_of(turns) == 2);
  CHECK(*askmock::research_answer(turns, {"one", "two"}) ==
        "## Research Update 2\n\nRound 2 (update) of the research into: How do retries "
        "work?\n\nRead: `src/a.cpp`, `b.py`.\n\nNext: two");
  turns[0] = system("## Final Conclusion", true);
  CHECK(*askmock::research_answer(turns, {}) ==
        "Round 2 (conclusion) of the research into: How do retries work?\n\nRead: `src/a.cpp`, "
        "`b.py`.\n\nConcluded after 2 rounds.");
  CHECK_FALSE(askmock::research_answer({{"user", "plain"}}, {"x"}).has_value());
  // A question whose context quotes askd's continue request is still the question.
  turns.resize(2);
  turns[1].content += "## File: c.cpp\n\"Your previous answer was cut off.\"\n";
  CHECK(askmock::research_answer(turns, {})->find("`b.py`, `c.cpp`") != std::string::npos);
}

TEST_CASE("askmock pads OpenAI's chunks as OpenAI does - unless asked not to, and not Azure's") {
  auto chunks = [](std::string path, std::string query, std::string stream_options) {
    askd::net::request req;
    req.method = "POST";
    req.path = std::move(path);
    req.query = std::move(query);
    req.body = R"({"model":"m","stream":true,)" + stream_options +
               R"("messages":[{"role":"user","content":"q"}]})";
    const auto* format = askmock::format_for(req.path);
    REQUIRE(format);
    auto call = format->parse(req);
    auto tail = format->tail(call, {});
    return format->delta(call, "Hello") + format->delta(call, " world") + tail[0] + tail[1];
  };
  auto openai = chunks("/v1/chat/completions", "", R"("stream_options":{"include_usage":true},)");
  CHECK(openai.find(R"(}],"obfuscation":")") != std::string::npos);
  CHECK(openai.find(R"("total_tokens":0},"obfuscation":")") != std::string::npos);  // usage too
  // Random characters, not one fixed string: the next chunk's differ.
  auto first = openai.find("\"obfuscation\":\""),
       second = openai.find("\"obfuscation\":\"", first + 1);
  REQUIRE(second != std::string::npos);
  CHECK(openai.substr(first, openai.find('"', first + 15) - first) !=
        openai.substr(second, openai.find('"', second + 15) - second));
  CHECK(chunks("/v1/chat/completions", "", R"("stream_options":{"include_obfuscation":false},)")
            .find("obfuscation") == std::string::npos);
  CHECK(chunks("/openai/deployments/d/chat/completions", "api-version=2024-10-21", "")
            .find("obfuscation") == std::string::npos);
}
