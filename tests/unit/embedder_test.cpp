// Embedders (the requests they build, the answers they read, as each provider's API
// documentation shows them), the vector file, rank fusion, and splitting long inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "core/config.hpp"
#include "core/tokens.hpp"
#include "providers/embedder.hpp"
#include "rag/vector_index.hpp"
#include "tests/support/temp_dir.hpp"

using namespace askd;
using namespace askd::providers;

namespace {

embedder make(const std::string& id) {
  core::load_options o;
  o.getenv = [](const char* n) {
    return std::string(n).find("_KEY") != std::string::npos ? std::string("key") : std::string();
  };
  auto cfg = core::load_config(o);
  return embedder(*cfg.embedders.find(id), cfg.upstream);
}

double length(const vector& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  return std::sqrt(n);
}

}  // namespace

TEST_CASE("embedders build each provider's request") {
  auto openai = make("openai").build({"a", "b\"c"});
  CHECK(openai.url == "https://api.openai.com/v1/embeddings");
  CHECK(
      openai.body ==
      R"({"model":"text-embedding-3-small","encoding_format":"float","dimensions":256,"input":["a","b\"c"]})");
  auto ollama = make("ollama").build({"a"});
  CHECK(ollama.url == "http://localhost:11434/api/embed");
  CHECK(ollama.body == R"({"model":"nomic-embed-text","truncate":false,"input":["a"]})");
  auto google = make("google").build({"a"});
  CHECK(google.url ==
        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:"
        "batchEmbedContents");
  CHECK(
      google.body ==
      R"({"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"taskType":"SEMANTIC_SIMILARITY"}]})");
}

TEST_CASE("embedders read each provider's answer - as unit vectors in input order") {
  std::vector<vector> out;
  // OpenAI's "Create embeddings" response (indexes given out of order here).
  REQUIRE_FALSE(make("openai").parse(
      R"({"object":"list","data":[{"object":"embedding","embedding":[0.0,3.0],"index":1},)"
      R"({"object":"embedding","embedding":[0.0023064255,-0.009327292],"index":0}],)"
      R"("model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}})",
      2, out));
  REQUIRE(out.size() == 2);
  CHECK(std::abs(length(out[0]) - 1) < 1e-6);
  CHECK(out[1] == vector{0.0f, 1.0f});
  // Ollama's /api/embed.
  out.clear();
  REQUIRE_FALSE(make("ollama").parse(
      R"({"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862,0.05007221,0.04692972,0.054916814]]})",
      1, out));
  CHECK(out.at(0).size() == 5);
  // Gemini's batchEmbedContents.
  out.clear();
  REQUIRE_FALSE(
      make("google").parse(R"({"embeddings":[{"values":[1,0]},{"values":[0,2]}]})", 2, out));
  CHECK(out.at(1) == vector{0.0f, 1.0f});
  // Fewer vectors than inputs is the embedder's fault.
  out.clear();
  auto short_answer = make("ollama").parse(R"({"embeddings":[[1,2]]})", 2, out);
  REQUIRE(short_answer);
  CHECK(short_answer->code == core::error_code::bad_response);
}

TEST_CASE("embedder errors map to the supervisor's classes in the embedder's name") {
  auto e = make("openai").classify(
      429, R"({"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}})", "1");
  CHECK(e.code == core::error_code::rate_limited);
  CHECK(e.message.rfind("embedder openai", 0) == 0);
  e = make("ollama").classify(400, R"({"error":"the input length exceeds the context length"})",
                              "");
  CHECK(e.code == core::error_code::context_length);
}

TEST_CASE("long inputs are split at line ends within the token budget - nothing lost") {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i) + " of a file — naïve\n";
  auto parts = split_for_embedding(text, 40);
  CHECK(parts.size() > 5);
  std::string joined;
  for (const auto& p : parts) {
    CHECK(core::count_tokens(p) <= 40);
    joined += p;
  }
  CHECK(joined == text);
  CHECK(split_for_embedding("short", 40) == std::vector<std::string>{"short"});
}

TEST_CASE("vector files are written whole and named by the embedder key") {
  test::temp_dir dir;
  auto path = rag::vector_index::path_for(dir.path, "openai-text-embedding-3-small-256");
  CHECK(path == dir.path + "/vectors-openai-text-embedding-3-small-256.f32");
  CHECK_FALSE(rag::vector_index::open(path));
  rag::vector_index::write(path, {{1, 0, 0}, {0, 1, 0}, {0.6f, 0.8f, 0}});
  auto v = rag::vector_index::open(path);
  REQUIRE(v);
  CHECK(v->dimensions() == 3);
  CHECK(v->size() == 3);
  auto near = v->search({0, 1, 0}, 2);
  REQUIRE(near.size() == 2);
  CHECK(near[0].first == 1);
  CHECK(near[1].first == 2);
  CHECK(v->search({1, 0}, 2).empty());  // another embedder's size: no answer, not a wrong one
  std::ofstream(path, std::ios::trunc) << "garbage";
  CHECK_THROWS(rag::vector_index::open(path));
}

TEST_CASE("reciprocal rank fusion puts what both lists found first") {
  auto c = [](const char* path) {
    rag::context_chunk x;
    x.path = path;
    x.start_line = 1;
    return x;
  };
  auto fused = rag::fuse_ranked({{c("a"), c("b"), c("c")}, {c("d"), c("c")}}, 3);
  REQUIRE(fused.size() == 3);
  CHECK(fused[0].path == "c");
  CHECK(fused[1].path == "a");
  CHECK(fused[2].path == "d");
}
