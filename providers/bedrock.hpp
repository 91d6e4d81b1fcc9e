// providers/bedrock.hpp — AWS Bedrock's ConverseStream: POST
// {base_url}/model/{modelId}/converse-stream (base_url from the region:
// https://bedrock-runtime.{region}.amazonaws.com), signed with SigV4 (service
// "bedrock") from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; the
// body is AWS's binary event stream (providers/aws.hpp), one JSON payload per message:
// messageStart, contentBlockDelta (delta.text), contentBlockStop, messageStop
// (stopReason), metadata (usage); exceptions arrive as messages of type "exception".
#pragma once

#include <map>
#include <string>

#include "providers/provider.hpp"

namespace askd::providers {

class bedrock_provider : public provider {
 public:
  bedrock_provider(core::provider_settings settings, core::upstream_settings upstream);

  upstream_request build(const generation_request& request) const override;
  std::unique_ptr<stream_decoder> decoder() const override;
  core::error classify(long status, std::string_view body,
                       std::string_view retry_after) const override;
  std::optional<core::error> missing_key() const override;

  // The request signed as of `amz_date` (tests sign at a fixed time).
  upstream_request build_at(const generation_request& request, const std::string& amz_date) const;

 private:
  std::map<std::string, std::string> config_;  // model -> `,"inferenceConfig":{...}` or ""
  std::string host_;                           // as the Host header names it
  std::string path_prefix_;                    // base_url's path, before /model/...
};

std::unique_ptr<stream_decoder> make_bedrock_decoder(std::string provider_id);

}  // namespace askd::providers
