// apps/askmock/embeddings.hpp — deterministic embeddings in the three wire formats askd
// speaks: OpenAI's POST …/embeddings, Ollama's POST …/api/embed, Gemini's POST
// …/models/{m}:batchEmbedContents. A text's vector is a sum over its words of a hashed
// direction per *concept*, where a few words share a concept (throttle and limit, caller
// and client, login and authenticate): a stand-in for a model that knows synonyms, so a
// test can ask what lexical search cannot find. An input over `max_input_bytes` is
// refused as Ollama refuses an input past its context.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_server.hpp"

namespace askmock {

// The vector askmock gives `text` (unit length, `dim` values).
std::vector<float> mock_embedding(std::string_view text, std::size_t dim);

// Whether `path` is an embeddings route.
bool is_embeddings_path(std::string_view path);

struct embed_stats {
  std::int64_t requests = 0;
  std::int64_t inputs = 0;
};

// Answers an embeddings request (`key`: the key it must carry, "" for none).
void answer_embeddings(const askd::net::request& req, askd::net::response& res,
                       const std::string& key, std::size_t max_input_bytes, embed_stats& stats);

}  // namespace askmock
