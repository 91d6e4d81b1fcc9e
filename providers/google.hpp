// providers/google.hpp — Google Gemini, streamed: POST
// {base_url}/models/{model}:streamGenerateContent?alt=sse with the key in
// `x-goog-api-key`; the body is SSE, one GenerateContentResponse per `data:` line
// (candidates[0].content.parts[].text), and the stream ends after the chunk that carries
// a finishReason (there is no [DONE]). The system prompt goes in systemInstruction, the
// turns in contents (roles user/model), the model's parameters in generationConfig.
#pragma once

#include <map>
#include <string>

#include "providers/provider.hpp"

namespace askd::providers {

class google_provider : public provider {
 public:
  google_provider(core::provider_settings settings, core::upstream_settings upstream);

  upstream_request build(const generation_request& request) const override;
  std::unique_ptr<stream_decoder> decoder() const override;
  core::error classify(long status, std::string_view body,
                       std::string_view retry_after) const override;

 private:
  std::map<std::string, std::string> config_;  // model -> `,"generationConfig":{...}` or ""
};

std::unique_ptr<stream_decoder> make_google_decoder(std::string provider_id);

}  // namespace askd::providers
