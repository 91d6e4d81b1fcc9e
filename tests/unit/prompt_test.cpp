#include <catch2/catch.hpp>

#include "rag/prompt.hpp"

using namespace askd;

TEST_CASE("the prompt keeps the conversation as turns and ends with the question") {
  core::chat_request r;
  r.repo_url = "https://github.com/owner/repo";
  r.messages = {{"user", "first"}, {"assistant", "answer"}, {"user", "second?"}};
  rag::prompt_inputs in;
  in.request = &r;
  in.language_name = "Japanese (日本語)";
  in.context = {{"src/a.cpp", 10, 20, "int main() {}"}};
  auto msgs = rag::assemble_prompt(in);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[0].role == "system");
  CHECK(msgs[0].content.find("owner/repo") != std::string::npos);
  CHECK(msgs[0].content.find("Japanese") != std::string::npos);
  CHECK(msgs[1].content == "first");
  CHECK(msgs[2].role == "assistant");
  CHECK(msgs[3].role == "user");
  CHECK(msgs[3].content.find("src/a.cpp") != std::string::npos);
  CHECK(msgs[3].content.find("second?") != std::string::npos);
  CHECK(msgs[3].content.find("second?") > msgs[3].content.find("src/a.cpp"));
  CHECK(rag::repo_name("https://github.com/owner/repo.git") == "owner/repo");
  CHECK(rag::repo_name("/home/me/code/proj/") == "proj");
}
