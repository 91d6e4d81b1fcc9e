// Vector and hybrid retrieval end to end: askd embeds the fixture repository's chunks
// with an embedder at askmock (whose vectors know a few synonyms, as a model would),
// keeps the vectors on disk by embedder, and finds what lexical search cannot; an
// embedder that fails degrades the search to bm25 and the stream says so.
#include <catch2/catch.hpp>

#include <filesystem>

#include "providers/embedder.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/fake_servers.hpp"
#include "tests/support/test_client.hpp"

using namespace askd;
using namespace askd::test;

namespace {

// No file of the fixture says "callers" or "throttled"; src/token_bucket.py is "A token
// bucket rate limiter for clients".
const std::string question = "How are callers throttled? #mock{\"text\":\"ok\"}";
const std::string wanted = "## File: src/token_bucket.py";

std::string ask(const e2e_env& env, const std::string& retrieval,
                const std::string& face = "/chat/completions/stream",
                const std::string& q = question) {
  auto body = local_body(q);
  body.insert(1, "\"provider\":\"openai\",\"retrieval\":" + retrieval + ",");
  return http_call(env.port, "POST", face, body).body;
}

std::size_t vector_files(const e2e_env& env) {
  std::size_t n = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(env.data_dir.path))
    if (f.path().filename().string().rfind("vectors-", 0) == 0) ++n;
  return n;
}

}  // namespace

TEST_CASE("hybrid retrieval finds what bm25 alone misses - and keeps the vectors") {
  e2e_env env;
  CHECK(ask(env, R"({"mode":"bm25"})") == "ok");
  CHECK(env.mock->last_body().find(wanted) == std::string::npos);

  CHECK(ask(env, R"({"mode":"hybrid"})") == "ok");
  CHECK(env.mock->last_body().find(wanted) != std::string::npos);
  auto embedded = env.mock->embeddings();
  CHECK(embedded.inputs > 1);  // every chunk, and the question
  CHECK(vector_files(env) == 1);

  // The vectors are kept: the next search embeds only its question.
  CHECK(ask(env, R"({"mode":"vector"})") == "ok");
  CHECK(env.mock->last_body().find(wanted) != std::string::npos);
  CHECK(env.mock->embeddings().inputs == embedded.inputs + 1);
  CHECK(env.settles());
}

TEST_CASE("each embedder's wire format serves vector retrieval - its vectors kept apart") {
  e2e_env env;
  for (const char* embedder : {"openai", "ollama", "google"}) {
    INFO(embedder);
    CHECK(ask(env, std::string(R"({"mode":"vector","embedder":")") + embedder + "\"}") == "ok");
    CHECK(env.mock->last_body().find(wanted) != std::string::npos);
  }
  CHECK(vector_files(env) == 3);  // one per embedder key: never mixed
}

TEST_CASE("an embedder that fails degrades retrieval to bm25 - and says so") {
  e2e_env env([](core::config& c) {
    for (auto& e : c.embedders.embedders) e.client.base_url = "http://127.0.0.1:1";  // refused
  });
  auto body = ask(env, R"({"mode":"hybrid"})", "/v1/chat/stream");
  CHECK(body.find("\"retrieval:bm25\"") != std::string::npos);  // in the done event
  CHECK(body.find("event: done") != std::string::npos);
  CHECK(env.mock->last_body().find("How are callers throttled?") != std::string::npos);  // answered
  CHECK(vector_files(env) == 0);
  CHECK(env.settles());
}

TEST_CASE("an unknown embedder is a 400 naming the valid ones") {
  e2e_env env;
  auto body = local_body("q");
  body.insert(1, R"("retrieval":{"mode":"vector","embedder":"nope"},)");
  auto r = http_call(env.port, "POST", "/chat/completions/stream", body);
  CHECK(r.status == 400);
  CHECK(r.body.find("valid embedders: openai, ollama, google") != std::string::npos);
}

TEST_CASE("an input longer than the embedder's context is split - not failed") {
  // askmock refuses inputs over 300 bytes, as a small local model's context would.
  auto mock = std::make_shared<askmock::mock_service>(askmock::mock_options{"", 300});
  net::http_server server(mock, net::server_limits{}, 1);
  auto port = server.listen("127.0.0.1", 0);
  server.run();
  providers::curl_engine curl;
  core::embedder_settings s;
  s.id = "ollama";
  s.client_class = "OllamaClient";
  s.model = "nomic-embed-text";
  s.batch_size = 4;
  s.client.id = "ollama";
  s.client.base_url = "http://127.0.0.1:" + std::to_string(port);
  core::upstream_settings u;
  u.backoff_ms = 1;
  std::string long_text;
  for (int i = 0; i < 60; ++i)
    long_text += "the token bucket limits callers line " + std::to_string(i) + "\n";
  providers::embed_context ctx{&curl, nullptr, nullptr};

  s.max_input_tokens = 4000;  // trusting the model with all of it: refused
  auto refused = providers::embed_texts(ctx, providers::embedder(s, u), {long_text, "short"});
  REQUIRE(refused.failure);
  CHECK(refused.failure->message.find("context length") != std::string::npos);

  s.max_input_tokens = 50;  // askd's split: parts the model takes, averaged
  auto split = providers::embed_texts(ctx, providers::embedder(s, u), {long_text, "short"});
  REQUIRE_FALSE(split.failure);
  REQUIRE(split.vectors.size() == 2);
  CHECK(split.vectors[0].size() == 64);
  CHECK(mock->embeddings().inputs > 3);
  // The average still points where the text does.
  auto q = askmock::mock_embedding("token bucket limits", 64);
  double dot = 0;
  for (std::size_t i = 0; i < 64; ++i) dot += q[i] * split.vectors[0][i];
  CHECK(dot > 0.3);
}

TEST_CASE("an embedder that never answers times out - then is retried - then fails") {
  test::scripted_server silent({""});  // holds every connection open, silent
  providers::curl_engine curl;
  core::embedder_settings s;
  s.id = "ollama";
  s.client_class = "OllamaClient";
  s.model = "m";
  s.client.id = "ollama";
  s.client.base_url = "http://127.0.0.1:" + std::to_string(silent.port());
  core::upstream_settings u;
  u.idle_timeout_ms = 200;
  u.backoff_ms = 1;
  u.max_attempts = 2;
  providers::embed_context ctx{&curl, nullptr, nullptr};
  auto r = providers::embed_texts(ctx, providers::embedder(s, u), {"text"});
  REQUIRE(r.failure);
  CHECK(r.failure->code == core::error_code::timeout);
  CHECK(r.failure->message.find("upstream.idle_timeout_ms") != std::string::npos);
  CHECK(silent.connections() == 2);
}

TEST_CASE("a failed vector build is not tried again at once - searches meanwhile say why") {
  e2e_env env([](core::config& c) {
    for (auto& e : c.embedders.embedders) e.client.api_key = "sk-wrong";  // askmock says 401
  });
  auto first = ask(env, R"({"mode":"hybrid"})", "/v1/chat/stream");
  CHECK(first.find("\"retrieval:bm25\"") != std::string::npos);
  auto tried = env.mock->embeddings().requests;
  CHECK(tried == 1);  // a refused key is not retried
  auto second = ask(env, R"({"mode":"hybrid"})", "/v1/chat/stream");
  CHECK(second.find("\"retrieval:bm25\"") != std::string::npos);
  CHECK(env.mock->embeddings().requests == tried);  // no second whole-repository build
}
