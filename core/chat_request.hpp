// core/chat_request.hpp — the request schema both faces share (PROTOCOL.md), and
// its validation, which runs before any clone, index or provider work.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace askd::core {

// Bounds on a request's filter rules (excluded_dirs, excluded_files, included_dirs,
// included_files). Every rule is matched against every path of the repository while
// the index is built, so their number and length bound the work one request can ask
// for; both are far above what people write. Past them the request is refused (400).
inline constexpr std::size_t max_filter_rules = 256;       // rules per field
inline constexpr std::size_t max_filter_rule_bytes = 512;  // bytes per rule, trimmed

// Why a filter field's rules are past those bounds ("" when they are not): the detail of
// a 400, and what a cluster node checks of the rules another node sends it.
std::string filter_rules_problem(const std::string& field, const std::string& value);

// Why `repo_url` cannot be one (empty, past max_repo_url_bytes, a control character); "".
std::string repo_url_problem(std::string_view repo_url);

// Why any of a request's four filter fields (excluded_dirs, excluded_files, included_dirs,
// included_files: a chat_request, or what a cluster node sends of one) is past its bounds.
template <class Request>
std::string filter_fields_problem(const Request& r) {
  for (const auto& [field, value] : {std::pair{"excluded_dirs", &r.excluded_dirs},
                                     std::pair{"excluded_files", &r.excluded_files},
                                     std::pair{"included_dirs", &r.included_dirs},
                                     std::pair{"included_files", &r.included_files}})
    if (auto why = filter_rules_problem(field, *value); !why.empty()) return why;
  return {};
}

// Why a request's repository fields (repo_url, type, the filters) sent by another cluster
// node cannot be served ("" when they can): the bounds a client's request has.
template <class Request>
std::string repository_fields_problem(const Request& r) {
  if (auto why = repo_url_problem(r.repo_url); !why.empty()) return why;
  if (r.type != "github" && r.type != "gitlab" && r.type != "bitbucket" && r.type != "local")
    return "type: one of github, gitlab, bitbucket, local";
  return filter_fields_problem(r);
}

// "a, b\nc" → {"a", "b", "c"}: the rules of one filter field, newline- or
// comma-separated, trimmed, empties dropped.
std::vector<std::string> split_list(std::string_view s);

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
  // The text of each retrieved excerpt in the `sources` event (clipped), for clients
  // that show what was cited (askd's page, the OpenAI face).
  bool source_text = false;
  // false: answered by its own upstream call, never from the answer cache, and not
  // stored in it (actors/answer_cache.hpp).
  bool cache = true;
};

// The longest repo_url askd reads.
inline constexpr std::size_t max_repo_url_bytes = 2048;

// Parses a request body and checks every rule of PROTOCOL.md's validation table that
// needs only the request and the configuration. Fills in defaults (provider, model,
// language). On failure the error is `bad_request` with the detail the client sees.
struct parse_options {
  // deepwiki-open answers a language it does not know in its default language (its
  // pages pass ?language= from the URL unchecked): the compat face does the same and
  // says which code it replaced here. v1 refuses an unknown language.
  bool language_fallback = false;
  std::string* replaced_language = nullptr;
};
result<chat_request> parse_chat_request(std::string_view body, const config& cfg,
                                        const parse_options& options = {});

}  // namespace askd::core
