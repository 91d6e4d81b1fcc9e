#include "core/chat_request.hpp"

#include <cctype>

#include "core/json.hpp"

namespace askd::core {
namespace {

error bad_request(std::string detail) {
  return error::make(error_code::bad_request, detail);
}

std::string list_of(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::vector<std::string> provider_ids(const generator_settings& g) {
  std::vector<std::string> ids;
  for (const auto& p : g.providers) ids.push_back(p.id);
  return ids;
}

// Checks that `provider` exists and may serve `model`; returns the detail of the refusal.
std::string check_provider(const config& cfg, const std::string& field, const std::string& id,
                           const std::string& model) {
  const auto* p = cfg.generator.find(id);
  if (!p)
    return field + ": unknown provider " + json::shown(id) +
           "; valid providers: " + list_of(provider_ids(cfg.generator));
  if (!model.empty() && !p->supports_custom_model && !p->find_model(model)) {
    std::vector<std::string> models;
    for (const auto& m : p->models) models.push_back(m.id);
    return "model: " + json::shown(model) + " is not allowed for provider " + id +
           "; valid models: " + list_of(models);
  }
  return {};
}

}  // namespace

std::string filter_rules_problem(const std::string& field, const std::string& value) {
  auto rules = split_list(value);
  if (rules.size() > max_filter_rules)
    return field + ": at most " + std::to_string(max_filter_rules) + " rules, got " +
           std::to_string(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (rules[i].size() > max_filter_rule_bytes)
      return field + ": a rule is at most " + std::to_string(max_filter_rule_bytes) +
             " bytes, rule " + std::to_string(i + 1) + " has " + std::to_string(rules[i].size());
  return {};
}

std::string repo_url_problem(std::string_view repo_url) {
  if (repo_url.empty()) return "repo_url: expected a repository URL or path, got an empty string";
  // A NUL would cut a local path short where the operating system reads it; no URL or
  // path needs a control character, or 2 KB.
  if (repo_url.size() > max_repo_url_bytes)
    return "repo_url: at most " + std::to_string(max_repo_url_bytes) + " bytes, got " +
           std::to_string(repo_url.size());
  for (unsigned char c : repo_url)
    if (c < 0x20 || c == 0x7f)
      return "repo_url: contains a control character (byte " + std::to_string(c) + ")";
  return {};
}

std::vector<std::string> split_list(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::string> out;
  while (!s.empty()) {
    auto end = s.find_first_of(",\n");
    auto item = s.substr(0, end);
    while (!item.empty() && space(item.front())) item.remove_prefix(1);
    while (!item.empty() && space(item.back())) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return out;
}

result<chat_request> parse_chat_request(std::string_view body, const config& cfg,
                                        const parse_options& options) {
  chat_request req;
  try {
    rapidjson::Document doc;
    json::parse(body, doc);
    json::object_reader r(doc, "");
    req.repo_url = r.required_string("repo_url");
    if (auto why = repo_url_problem(req.repo_url); !why.empty()) return bad_request(why);

    const auto* msgs = r.array("messages");
    if (!msgs)
      throw json::field_error("messages", "an array of messages",
                              "nothing (the field is required)");
    for (rapidjson::SizeType i = 0; i < msgs->Size(); ++i) {
      json::object_reader m((*msgs)[i], "messages[" + std::to_string(i) + "]");
      chat_message cm{m.required_string("role"), m.required_string("content")};
      if (cm.role != "user" && cm.role != "assistant" && cm.role != "system")
        throw json::field_error(m.path_of("role"), "one of user, assistant, system",
                                json::shown(cm.role));
      req.messages.push_back(std::move(cm));
    }
    if (req.messages.empty()) return bad_request("No messages provided");
    if (req.messages.back().role != "user")
      return bad_request("Last message must be from the user");

    req.file_path = r.string_or("filePath", "");
    req.token = r.string_or("token", "");
    req.type = r.string_or("type", "github");
    if (req.type != "github" && req.type != "gitlab" && req.type != "bitbucket" &&
        req.type != "local")
      throw json::field_error("type", "one of github, gitlab, bitbucket, local",
                              json::shown(req.type));
    req.provider = r.string_or("provider", cfg.generator.default_provider);
    req.model = r.string_or("model", "");
    req.language = r.string_or("language", cfg.languages.default_code);
    if (!cfg.languages.name_of(req.language) && options.language_fallback) {
      if (options.replaced_language) *options.replaced_language = req.language;
      req.language = cfg.languages.default_code;
    }
    if (!cfg.languages.name_of(req.language)) {
      std::vector<std::string> codes;
      for (const auto& [code, name] : cfg.languages.supported) codes.push_back(code);
      return bad_request("language: unsupported language " + json::shown(req.language) +
                         "; valid languages: " + list_of(codes));
    }
    req.excluded_dirs = r.string_or("excluded_dirs", "");
    req.excluded_files = r.string_or("excluded_files", "");
    req.included_dirs = r.string_or("included_dirs", "");
    req.included_files = r.string_or("included_files", "");
    if (auto why = filter_fields_problem(req); !why.empty()) return bad_request(why);

    req.deep_research = r.boolean("deep_research").value_or(false);
    req.source_text = r.boolean("source_text").value_or(false);
    req.cache = r.boolean("cache").value_or(true);
    req.max_rounds = static_cast<int>(r.integer("max_rounds", 1, 20).value_or(5));
    if (const auto* ret = r.object("retrieval")) {
      json::object_reader rr(*ret, "retrieval");
      req.retrieval.mode = rr.string_or("mode", "bm25");
      if (req.retrieval.mode != "bm25" && req.retrieval.mode != "vector" &&
          req.retrieval.mode != "hybrid" && req.retrieval.mode != "none")
        throw json::field_error("retrieval.mode", "one of bm25, vector, hybrid, none",
                                json::shown(req.retrieval.mode));
      req.retrieval.top_k = static_cast<int>(rr.integer("top_k", 1, 200).value_or(20));
      req.retrieval.embedder = rr.string_or("embedder", "");
      if (!req.retrieval.embedder.empty() && !cfg.embedders.find(req.retrieval.embedder)) {
        std::vector<std::string> ids;
        for (const auto& e : cfg.embedders.embedders) ids.push_back(e.id);
        return bad_request("retrieval.embedder: unknown embedder " +
                           json::shown(req.retrieval.embedder) +
                           "; valid embedders: " + list_of(ids));
      }
    }
    if (req.retrieval.embedder.empty()) req.retrieval.embedder = cfg.embedders.default_embedder;
    req.ref = r.string_or("ref", "");
    if (const auto* fb = r.array("fallback")) {
      for (rapidjson::SizeType i = 0; i < fb->Size(); ++i) {
        const auto& v = (*fb)[i];
        auto path = "fallback[" + std::to_string(i) + "]";
        if (!v.IsString()) throw json::field_error(path, "a provider id", json::describe(v));
        std::string id(v.GetString(), v.GetStringLength());
        if (auto why = check_provider(cfg, path, id, ""); !why.empty()) return bad_request(why);
        req.fallback.push_back(std::move(id));
      }
    }
  } catch (const json::syntax_error& e) {
    return bad_request(std::string("body: ") + e.what());
  } catch (const json::field_error& e) {
    return bad_request(e.what());
  }

  if (auto why = check_provider(cfg, "provider", req.provider, req.model); !why.empty())
    return bad_request(why);
  if (req.model.empty()) req.model = cfg.generator.find(req.provider)->default_model;
  return req;
}

}  // namespace askd::core
