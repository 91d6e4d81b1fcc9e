// providers/ollama.hpp — Ollama's native chat API, streamed: POST {base_url}/api/chat
// (base_url from OLLAMA_HOST); the body is newline-delimited JSON, one object per line
// with message.content, and a last object with "done": true, done_reason and the token
// counts. The model's "options" in conf (num_ctx, temperature, ...) go as they are.
// Reasoning models write <think>...</think> first; like deepwiki-open, askd drops it
// from the answer unless conf says strip_think: false.
#pragma once

#include <map>
#include <string>

#include "providers/provider.hpp"

namespace askd::providers {

// Drops the <think>...</think> block a reasoning model writes before its answer (and
// the blank lines after it), from text that arrives in pieces: a tag may be split across
// pieces, so what could still become one is held until the next piece. Only a block
// that opens the output: once the answer has begun, `<think>` is text like any other
// (an answer may well be about that tag).
class think_filter {
 public:
  // Appends to `out` what of `piece` is answer.
  void feed(std::string_view piece, std::string& out);
  // The end: what was held (an unfinished tag start that never became one).
  void finish(std::string& out);

 private:
  enum class state { leading, thinking, after, answer };
  state state_ = state::leading;
  std::string held_;
};

class ollama_provider : public provider {
 public:
  ollama_provider(core::provider_settings settings, core::upstream_settings upstream);

  upstream_request build(const generation_request& request) const override;
  std::unique_ptr<stream_decoder> decoder() const override;
  core::error classify(long status, std::string_view body,
                       std::string_view retry_after) const override;

 private:
  std::map<std::string, std::string> options_;  // model -> `,"options":{...}` or ""
};

std::unique_ptr<stream_decoder> make_ollama_decoder(std::string provider_id, bool strip_think);

}  // namespace askd::providers
