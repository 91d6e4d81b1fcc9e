#include "providers/local.hpp"

#include <stdexcept>

namespace askd::providers {

// An offline provider is never called over HTTP; reaching these is a bug of ours.
upstream_request local_provider::build(const generation_request&) const {
  throw std::logic_error("the local provider makes no upstream calls");
}

std::unique_ptr<stream_decoder> local_provider::decoder() const {
  throw std::logic_error("the local provider makes no upstream calls");
}

core::error local_provider::classify(long, std::string_view, std::string_view) const {
  return core::error::make(core::error_code::internal,
                           "the local provider makes no upstream calls");
}

}  // namespace askd::providers
