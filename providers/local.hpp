// providers/local.hpp — `local`, the offline provider: no upstream, no key. The session
// writes its answer from the retrieved chunks (rag/extractive.hpp); this class only
// gives it a place in the registry and /models/config like any other provider.
#pragma once

#include "providers/provider.hpp"

namespace askd::providers {

class local_provider : public provider {
 public:
  using provider::provider;
  bool offline() const override { return true; }
  upstream_request build(const generation_request& request) const override;
  std::unique_ptr<stream_decoder> decoder() const override;
  core::error classify(long status, std::string_view body,
                       std::string_view retry_after) const override;
};

}  // namespace askd::providers
