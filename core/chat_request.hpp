// core/chat_request.hpp — the request schema both faces share (PROTOCOL.md), and
// its validation, which runs before any clone, index or provider work.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace askd::core {

struct chat_message {
  std::string role;  // "user", "assistant" or "system"
  std::string content;
};

struct retrieval_options {
  std::string mode = "bm25";  // bm25 | vector | hybrid | none
  int top_k = 20;
  std::string embedder;  // for vector and hybrid (conf/embedder.json); resolved to the default
};

struct chat_request {
  std::string repo_url;
  std::vector<chat_message> messages;
  std::string file_path;
  std::string token;  // secret: never logged, never written anywhere
  std::string type = "github";
  std::string provider;  // resolved: the default provider when absent
  std::string model;     // resolved: the provider's default model when absent
  std::string language;  // resolved: the default language when absent
  std::string excluded_dirs, excluded_files, included_dirs, included_files;
  // v1 additions
  bool deep_research = false;
  int max_rounds = 5;
  retrieval_options retrieval;
  std::string ref;
  std::vector<std::string> fallback;
};

// The longest repo_url askd reads.
inline constexpr std::size_t max_repo_url_bytes = 2048;

// Parses a request body and checks every rule of PROTOCOL.md's validation table that
// needs only the request and the configuration. Fills in defaults (provider, model,
// language). On failure the error is `bad_request` with the detail the client sees.
result<chat_request> parse_chat_request(std::string_view body, const config& cfg);

}  // namespace askd::core
