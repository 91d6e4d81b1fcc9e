#include "apps/askmock/embeddings.hpp"

#include <rapidjson/document.h>

#include <cctype>
#include <cmath>
#include <map>

#include "core/json.hpp"

namespace askmock {
namespace json = askd::core::json;
using askd::net::request;
using askd::net::response;

namespace {

constexpr const char* json_type = "application/json";

// Words that mean the same to the mock "model".
const std::map<std::string, std::string>& concepts() {
  static const std::map<std::string, std::string> m = {
      {"throttle", "limit"},    {"throttled", "limit"},    {"throttling", "limit"},
      {"limiter", "limit"},     {"limits", "limit"},       {"rate", "limit"},
      {"caller", "client"},     {"callers", "client"},     {"clients", "client"},
      {"login", "auth"},        {"authenticate", "auth"},  {"credentials", "auth"},
      {"socket", "connection"}, {"sockets", "connection"}, {"connections", "connection"},
  };
  return m;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string vector_json(const std::vector<float>& v) {
  std::string s = "[";
  char buf[32];
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.6f", i ? "," : "", static_cast<double>(v[i]));
    s += buf;
  }
  return s + "]";
}

}  // namespace

std::vector<float> mock_embedding(std::string_view text, std::size_t dim) {
  std::vector<float> v(dim, 0.0f);
  std::string word;
  auto add = [&] {
    if (word.size() < 2) return word.clear();
    auto it = concepts().find(word);
    const auto& concept_ = it == concepts().end() ? word : it->second;
    auto h = fnv1a(concept_);
    v[h % dim] += (h >> 32) & 1 ? 1.0f : -1.0f;
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c))
      word += static_cast<char>(std::tolower(c));
    else
      add();
  }
  add();
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  if (n == 0) v[0] = 1, n = 1;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(n));
  return v;
}

bool is_embeddings_path(std::string_view path) {
  auto ends = [&](std::string_view end) {
    return path.size() >= end.size() && path.substr(path.size() - end.size()) == end;
  };
  return ends("/embeddings") || ends("/api/embed") || ends(":batchEmbedContents");
}

void answer_embeddings(const request& req, response& res, const std::string& key,
                       std::size_t max_input_bytes, embed_stats& stats) {
  auto path = std::string_view(req.path);
  bool gemini = path.find(":batchEmbedContents") != std::string_view::npos;
  bool ollama = path.find("/api/embed") != std::string_view::npos;
  ++stats.requests;
  if (!key.empty()) {
    bool ok = gemini ? req.header("x-goog-api-key") == key
                     : ollama || req.header("authorization") == "Bearer " + key;
    if (!ok)
      return res.send(401, json_type,
                      "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
                      "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
  }
  std::vector<std::string> inputs;
  std::size_t dim = 64;
  try {
    rapidjson::Document doc;
    json::parse(req.body, doc);
    json::object_reader body(doc, "");
    if (gemini) {
      const auto* requests = body.array("requests");
      if (!requests) throw std::runtime_error("requests: expected an array");
      for (const auto& r : requests->GetArray()) {
        json::object_reader rr(r, "requests[]");
        if (auto d = rr.integer("outputDimensionality", 1, 65536))
          dim = static_cast<std::size_t>(*d);
        std::string text;
        if (const auto* content = rr.object("content"))
          if (const auto* parts = json::object_reader(*content, "content").array("parts"))
            for (const auto& p : parts->GetArray())
              text += json::object_reader(p, "parts[]").string_or("text", "");
        inputs.push_back(std::move(text));
      }
    } else {
      body.required_string("model");
      if (auto d = body.integer("dimensions", 1, 65536)) dim = static_cast<std::size_t>(*d);
      const auto& input = body.value()["input"];
      if (input.IsString()) {
        inputs.emplace_back(input.GetString(), input.GetStringLength());
      } else if (input.IsArray()) {
        for (const auto& i : input.GetArray()) {
          if (!i.IsString()) throw std::runtime_error("input: expected strings");
          inputs.emplace_back(i.GetString(), i.GetStringLength());
        }
      } else {
        throw std::runtime_error("input: expected a string or an array of strings");
      }
    }
  } catch (const std::exception& e) {
    return res.send(
        400, json_type,
        "{\"error\":{\"message\":" + json::quote(std::string("askmock: ") + e.what()) + "}}");
  }
  for (const auto& in : inputs)
    if (in.size() > max_input_bytes)
      return res.send(400, json_type,
                      ollama ? "{\"error\":\"the input length exceeds the context length\"}"
                             : "{\"error\":{\"message\":\"This model's maximum context length is "
                               "8192 tokens, however you requested more. Please reduce the "
                               "length of the input.\",\"type\":\"invalid_request_error\"}}");
  stats.inputs += static_cast<std::int64_t>(inputs.size());
  std::string out;
  if (gemini) {
    out = "{\"embeddings\": [";
    for (std::size_t i = 0; i < inputs.size(); ++i)
      out += std::string(i ? "," : "") +
             "{\"values\": " + vector_json(mock_embedding(inputs[i], dim)) + "}";
    out += "]}";
  } else if (ollama) {
    out = "{\"model\":\"mock\",\"embeddings\":[";
    for (std::size_t i = 0; i < inputs.size(); ++i)
      out += std::string(i ? "," : "") + vector_json(mock_embedding(inputs[i], dim));
    out += "],\"total_duration\":14143917,\"load_duration\":1019500,\"prompt_eval_count\":8}";
  } else {
    out = "{\"object\":\"list\",\"data\":[";
    for (std::size_t i = 0; i < inputs.size(); ++i)
      out += std::string(i ? "," : "") +
             "{\"object\":\"embedding\",\"index\":" + std::to_string(i) +
             ",\"embedding\":" + vector_json(mock_embedding(inputs[i], dim)) + "}";
    out += "],\"model\":\"mock\",\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";
  }
  res.send(200, json_type, std::move(out));
}

}  // namespace askmock
