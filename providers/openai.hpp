// providers/openai.hpp — OpenAI-compatible chat completions, streamed:
// POST {base_url}/chat/completions with "stream": true; the body is SSE with one
// JSON chunk per `data:` line and `data: [DONE]` at the end. The same adapter serves
// OpenAI, OpenRouter, DashScope's compatible mode, vLLM, llama.cpp's server and
// Ollama's /v1 — they differ only in base URL, key and headers (conf/generator.json).
#pragma once

#include <map>
#include <string>

#include "providers/provider.hpp"

namespace askd::providers {

class openai_provider : public provider {
 public:
  // `key_header` precedes the key in the header that carries it.
  openai_provider(core::provider_settings settings, core::upstream_settings upstream,
                  std::string_view key_header = "Authorization: Bearer ");

  upstream_request build(const generation_request& request) const override;
  std::unique_ptr<stream_decoder> decoder() const override;
  core::error classify(long status, std::string_view body,
                       std::string_view retry_after) const override;

 private:
  std::map<std::string, std::string> params_;  // model -> `,"temperature":0.7,...` ready to splice
};

// The decoder on its own, for tests: `provider_id` names the provider in errors.
std::unique_ptr<stream_decoder> make_openai_decoder(std::string provider_id);

}  // namespace askd::providers
