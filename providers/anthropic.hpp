// providers/anthropic.hpp — Anthropic's Messages API, streamed: POST {base_url}/messages
// with `x-api-key` and `anthropic-version`; the body is SSE with named events
// (message_start, content_block_delta carrying text_delta, message_delta carrying the
// stop reason and output tokens, message_stop at the end; ping and error in between).
#pragma once

#include <map>
#include <string>

#include "providers/provider.hpp"

namespace askd::providers {

class anthropic_provider : public provider {
 public:
  anthropic_provider(core::provider_settings settings, core::upstream_settings upstream);

  upstream_request build(const generation_request& request) const override;
  std::unique_ptr<stream_decoder> decoder() const override;
  core::error classify(long status, std::string_view body,
                       std::string_view retry_after) const override;

 private:
  std::map<std::string, std::string> params_;  // model -> `,"max_tokens":...` ready to splice
};

std::unique_ptr<stream_decoder> make_anthropic_decoder(std::string provider_id);

}  // namespace askd::providers
