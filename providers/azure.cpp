#include "providers/azure.hpp"

namespace askd::providers {

azure_provider::azure_provider(core::provider_settings settings, core::upstream_settings upstream)
    : openai_provider(std::move(settings), upstream, "api-key: ") {}

upstream_request azure_provider::build(const generation_request& request) const {
  auto r = openai_provider::build(request);
  r.url = settings_.base_url + "/openai/deployments/" + uri_encode(request.model) +
          "/chat/completions?api-version=" + settings_.api_version;
  return r;
}

}  // namespace askd::providers
