// providers/embedder.hpp — turning text into vectors: OpenAI-compatible POST
// {base_url}/embeddings, Ollama's POST {base_url}/api/embed, Gemini's POST
// {base_url}/models/{model}:batchEmbedContents (conf/embedder.json). Error bodies are
// the chat providers' own and map to the same classes.
//
// embed_texts() is the whole job for a thread that may wait (the vector searcher's):
// batches of batch_size, an input longer than max_input_tokens split into parts that
// are embedded alone and averaged (not failed: deepwiki-open's top complaint with local
// models), retryable failures tried again with backoff (upstream.max_attempts), every
// request under the embedders' own limit (embedder.max_concurrent).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "providers/curl_engine.hpp"
#include "providers/provider.hpp"

namespace askd::providers {

using vector = std::vector<float>;

class embedder {
 public:
  embedder(core::embedder_settings settings, core::upstream_settings upstream);
  ~embedder();

  const core::embedder_settings& settings() const { return settings_; }
  // Timeouts and retries: the same as generation calls'.
  const core::upstream_settings& upstream() const { return upstream_; }
  // Names the vectors this embedder makes: its id, model and asked dimensions. Vectors
  // of different keys are never compared.
  std::string key() const;

  upstream_request build(const std::vector<std::string>& inputs) const;
  // The vectors of a 2xx body, in input order; an error when it is not `n` of them.
  std::optional<core::error> parse(std::string_view body, std::size_t n,
                                   std::vector<vector>& out) const;
  core::error classify(long status, std::string_view body, std::string_view retry_after) const;
  std::optional<core::error> missing_key() const;

 private:
  core::error as_embedder(core::error e) const;

  core::embedder_settings settings_;
  core::upstream_settings upstream_;
  std::unique_ptr<provider> errors_;  // the chat provider of the same format, for its error mapping
};

struct embedding {
  std::vector<vector> vectors;  // unit length, one per text
  std::optional<core::error> failure;
};

// Where a call waits and when it gives up.
struct embed_context {
  curl_engine* curl = nullptr;
  std::counting_semaphore<>* limit = nullptr;  // requests in flight (may be null)
  const std::atomic<bool>* stop = nullptr;     // set: give up now (askd is stopping)
};

// Blocks until every text is embedded or one failed for good; `progress(done, total)`
// after each batch.
embedding embed_texts(const embed_context& ctx, const embedder& e,
                      const std::vector<std::string>& texts,
                      const std::function<void(std::size_t, std::size_t)>& progress = {});

// The parts of `text` each within `max_tokens` (core::count_tokens), cut at line ends
// where it can, never inside a UTF-8 character.
std::vector<std::string> split_for_embedding(const std::string& text, std::int64_t max_tokens);

}  // namespace askd::providers
