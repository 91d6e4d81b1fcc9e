// providers/azure.hpp — Azure OpenAI: OpenAI's streamed chat completions at a
// deployment's URL, {endpoint}/openai/deployments/{deployment}/chat/completions
// ?api-version={version}, with the key in `api-key` (AZURE_OPENAI_API_KEY,
// AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_VERSION). The model names the deployment.
#pragma once

#include "providers/openai.hpp"

namespace askd::providers {

class azure_provider : public openai_provider {
 public:
  azure_provider(core::provider_settings settings, core::upstream_settings upstream);

  upstream_request build(const generation_request& request) const override;
};

}  // namespace askd::providers
