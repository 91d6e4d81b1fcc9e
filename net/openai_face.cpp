// net/openai_face.cpp — askd as an OpenAI-compatible model (PROTOCOL.md, "OpenAI
// face"): POST /v1/chat/completions and GET /v1/models, so OpenAI's SDKs and the tools
// built on them (LangChain, Open WebUI, Continue) can ask about a repository. The model
// id names askd's provider and model ("local", "openai/gpt-4o"); the repository comes
// from `repo_url` in the body or the X-Askd-Repo header; the retrieved sources ride in an
// extra `askd` field. The request becomes a deepwiki-style chat request and goes through
// the same admission as every chat; the stream is answered as chat.completion.chunk
// events ending in [DONE], or as one chat.completion.
#include <chrono>

#include "core/chat_request.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "net/askd_service.hpp"
#include "net/compat_face.hpp"

namespace askd::net {
namespace {

constexpr const char* json_type = "application/json";

// OpenAI's type and code for a status; its SDKs pick the exception class by the status.
std::pair<const char*, const char*> openai_kind(int status) {
  switch (status) {
    case 401:
      return {"invalid_request_error", "invalid_api_key"};
    case 403:
      return {"permission_error", nullptr};
    case 404:
      return {"invalid_request_error", "not_found"};
    case 429:
      return {"requests", "rate_limit_exceeded"};
    default:
      if (status >= 500) return {"server_error", nullptr};
      return {"invalid_request_error", nullptr};
  }
}

std::string openai_error_json(int status, std::string_view message, const char* param = nullptr,
                              const char* code = nullptr) {
  auto [type, default_code] = openai_kind(status);
  if (!code) code = default_code;
  return "{\"error\":{\"message\":" + core::json::quote(message) + ",\"type\":\"" + type +
         "\",\"param\":" + (param ? core::json::quote(param) : "null") +
         ",\"code\":" + (code ? core::json::quote(code) : "null") + "}}";
}

// A field of the request wrong in the OpenAI sense: 400 (or 404 for an unknown model)
// naming the parameter.
struct bad_param : std::runtime_error {
  bad_param(int status, const char* param, std::string message, const char* code = nullptr)
      : std::runtime_error(std::move(message)), status(status), param(param), code(code) {}
  int status;
  const char* param;
  const char* code;
};

// A message's content: a string, or OpenAI's list of parts of which only text is read.
std::string content_of(const rapidjson::Value& m, const std::string& path) {
  if (!m.HasMember("content") || m["content"].IsNull()) return {};
  const auto& c = m["content"];
  if (c.IsString()) return std::string(c.GetString(), c.GetStringLength());
  if (!c.IsArray()) throw bad_param(400, "messages", path + ".content: expected a string or a list of parts");
  std::string text;
  for (const auto& part : c.GetArray()) {
    if (!part.IsObject() || !part.HasMember("type") || !part["type"].IsString() ||
        std::string_view(part["type"].GetString()) != "text" || !part.HasMember("text") ||
        !part["text"].IsString())
      throw bad_param(400, "messages", path + ".content: only text parts are supported");
    if (!text.empty()) text += "\n";
    text += part["text"].GetString();
  }
  return text;
}

// "local", "openai", "openai/gpt-4o", "openrouter/openai/gpt-4o": provider, then model.
std::pair<std::string, std::string> split_model(const std::string& id, const core::config& cfg) {
  auto slash = id.find('/');
  auto provider = id.substr(0, slash);
  if (!cfg.generator.find(provider))
    throw bad_param(404, "model",
                    "The model `" + core::clip(id, 100) +
                        "` does not exist: askd's models are <provider> or <provider>/<model> "
                        "(GET /v1/models lists them)",
                    "model_not_found");
  return {provider, slash == std::string::npos ? std::string() : id.substr(slash + 1)};
}

// Where the repository is not said: a path is local; a host's own type, else github.
std::string type_of_repo(std::string_view url) {
  if (url.rfind("/", 0) == 0 || url.rfind("~", 0) == 0 || url.rfind("file://", 0) == 0)
    return "local";
  if (url.find("://gitlab.com/") != std::string_view::npos) return "gitlab";
  if (url.find("://bitbucket.org/") != std::string_view::npos) return "bitbucket";
  return "github";
}

struct openai_request {
  std::string chat_body;  // the deepwiki-style request admit_chat reads
  std::string model;      // as the client named it
  bool stream = false;
  bool include_usage = false;
};

// askd's own fields a client may add beside OpenAI's (others, e.g. temperature, are
// OpenAI's and ignored: askd's provider config decides them).
constexpr const char* passed_fields[] = {
    "type",          "language",       "deep_research",  "max_rounds",    "retrieval",
    "ref",           "filePath",       "excluded_dirs",  "excluded_files", "included_dirs",
    "included_files", "cache"};

openai_request translate(const request& http, const core::config& cfg) {
  rapidjson::Document d;
  try {
    core::json::parse(http.body, d);
  } catch (const std::exception& e) {
    throw bad_param(400, nullptr, e.what());
  }
  if (!d.IsObject()) throw bad_param(400, nullptr, "The body must be a JSON object");
  openai_request out;
  if (!d.HasMember("model") || !d["model"].IsString())
    throw bad_param(400, "model", "model: required, a string such as \"local\" or \"openai/gpt-4o\"");
  out.model = d["model"].GetString();
  auto [provider, model] = split_model(out.model, cfg);
  if (d.HasMember("stream") && !d["stream"].IsNull()) {
    if (!d["stream"].IsBool()) throw bad_param(400, "stream", "stream: expected true or false");
    out.stream = d["stream"].GetBool();
  }
  if (d.HasMember("stream_options") && d["stream_options"].IsObject() &&
      d["stream_options"].HasMember("include_usage") &&
      d["stream_options"]["include_usage"].IsBool())
    out.include_usage = d["stream_options"]["include_usage"].GetBool();
  if (d.HasMember("n") && d["n"].IsInt() && d["n"].GetInt() != 1)
    throw bad_param(400, "n", "n: askd answers with one choice");

  std::string repo(http.header("x-askd-repo"));
  if (d.HasMember("repo_url") && d["repo_url"].IsString()) repo = d["repo_url"].GetString();
  if (repo.empty())
    throw bad_param(400, "repo_url",
                    "No repository: name it with repo_url in the body or the X-Askd-Repo header");
  std::string token(http.header("x-askd-repo-token"));
  if (d.HasMember("repo_token") && d["repo_token"].IsString()) token = d["repo_token"].GetString();

  // The conversation: system (and developer) messages are dropped, as askd writes its
  // own system prompt around the repository's context.
  if (!d.HasMember("messages") || !d["messages"].IsArray())
    throw bad_param(400, "messages", "messages: required, a list");
  std::string messages = "[";
  rapidjson::SizeType i = 0;
  for (const auto& m : d["messages"].GetArray()) {
    auto path = "messages[" + std::to_string(i++) + "]";
    if (!m.IsObject() || !m.HasMember("role") || !m["role"].IsString())
      throw bad_param(400, "messages", path + ".role: required");
    std::string role = m["role"].GetString();
    if (role == "system" || role == "developer") continue;
    if (role != "user" && role != "assistant")
      throw bad_param(400, "messages", path + ".role: askd reads user and assistant messages, not " +
                                           core::json::quote(core::clip(role, 40)));
    if (messages.size() > 1) messages += ',';
    messages += "{\"role\":\"" + role + "\",\"content\":" + core::json::quote(content_of(m, path)) + "}";
  }
  messages += "]";

  std::string body = "{\"repo_url\":" + core::json::quote(repo) +
                     ",\"provider\":" + core::json::quote(provider) +
                     (model.empty() ? "" : ",\"model\":" + core::json::quote(model)) +
                     ",\"messages\":" + messages + ",\"source_text\":true";
  if (!token.empty()) body += ",\"token\":" + core::json::quote(token);
  if (!d.HasMember("type")) body += ",\"type\":\"" + type_of_repo(repo) + "\"";
  for (const char* f : passed_fields)
    if (d.HasMember(f)) body += ",\"" + std::string(f) + "\":" + core::json::write(d[f]);
  out.chat_body = body + "}";
  return out;
}

// One stream's answer in OpenAI's shapes. Called under the stream hub's lock: it only
// writes to the response (never blocks).
class openai_port : public actors::sink_port {
 public:
  openai_port(std::shared_ptr<response> res, std::string request_id, openai_request req)
      : res_(std::move(res)),
        request_id_(std::move(request_id)),
        id_("chatcmpl-" + request_id_),
        model_(req.model),
        stream_(req.stream),
        include_usage_(req.include_usage),
        created_(std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count()) {}

  void deliver(const core::stream_event& event) override {
    switch (event.type) {
      case core::event_type::meta:
        started_ = true;
        if (stream_)  // the head and the assistant's first (empty) chunk in one write
          res_->start(200, stream_headers(request_id_),
                      chunk_text("{\"role\":\"assistant\",\"content\":\"\"}", "null"));
        break;
      case core::event_type::sources:
        sources_ = field(event.data, "sources");
        if (stream_) chunk("{}", "null", ",\"askd\":{\"sources\":" + sources_ + "}");
        break;
      case core::event_type::delta:
        if (stream_) {
          std::string delta = "{\"content\":\"";
          core::json::append_escaped(delta, event.text);
          chunk(delta + "\"}", "null");
        } else {
          text_ += event.text;
        }
        break;
      case core::event_type::done:
        return done(event);
      case core::event_type::error:
        return failed(event);
      default:  // progress, stage: the text carries research headings itself
        break;
    }
  }

 private:
  // One chat.completion.chunk; `extra` goes after choices (usage, askd).
  void chunk(const std::string& delta, const char* finish, const std::string& extra = {}) {
    res_->write(chunk_text(delta, finish, extra));
  }
  std::string chunk_text(const std::string& delta, const char* finish,
                         const std::string& extra = {}) const {
    return "data: " + head("chat.completion.chunk") +
           ",\"choices\":[{\"index\":0,\"delta\":" + delta +
           ",\"logprobs\":null,\"finish_reason\":" + finish + "}]" + extra + "}\n\n";
  }

  std::string head(const char* object) const {
    return "{\"id\":" + core::json::quote(id_) + ",\"object\":\"" + object +
           "\",\"created\":" + std::to_string(created_) + ",\"model\":" + core::json::quote(model_);
  }

  void done(const core::stream_event& event) {
    rapidjson::Document d;
    core::json::try_parse(event.data, d);
    std::int64_t prompt = 0, completion = 0;
    std::string finish = "stop", degraded = "[]";
    bool cached = false;
    if (d.IsObject()) {
      if (d.HasMember("usage") && d["usage"].IsObject()) {
        const auto& u = d["usage"];
        if (u.HasMember("prompt_tokens") && u["prompt_tokens"].IsInt64())
          prompt = u["prompt_tokens"].GetInt64();
        if (u.HasMember("completion_tokens") && u["completion_tokens"].IsInt64())
          completion = u["completion_tokens"].GetInt64();
      }
      if (d.HasMember("finish_reason") && d["finish_reason"].IsString() &&
          std::string_view(d["finish_reason"].GetString()) == "length")
        finish = "length";
      if (d.HasMember("degraded")) degraded = core::json::write(d["degraded"]);
      cached = d.HasMember("cached") && d["cached"].IsBool() && d["cached"].GetBool();
    }
    auto usage = "{\"prompt_tokens\":" + std::to_string(prompt) +
                 ",\"completion_tokens\":" + std::to_string(completion) +
                 ",\"total_tokens\":" + std::to_string(prompt + completion) + "}";
    auto cache = std::string(",\"cached\":") + (cached ? "true" : "false");
    auto askd = ",\"askd\":{\"request_id\":" + core::json::quote(request_id_) +
                ",\"degraded\":" + degraded + cache + "}";
    if (stream_) {
      chunk("{}", ("\"" + finish + "\"").c_str(), askd);
      if (include_usage_)
        res_->write("data: " + head("chat.completion.chunk") + ",\"choices\":[],\"usage\":" + usage +
                    "}\n\n");
      res_->write("data: [DONE]\n\n");
      return res_->finish();
    }
    res_->send(200, json_type,
               head("chat.completion") +
                   ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" +
                   core::json::quote(text_) + ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"" +
                   finish + "\"}],\"usage\":" + usage + ",\"askd\":{\"request_id\":" +
                   core::json::quote(request_id_) + ",\"sources\":" + sources_ +
                   ",\"degraded\":" + degraded + cache + "}}",
               {{"X-Request-Id", request_id_}});
  }

  // Before the stream started (or with nothing sent yet, not streaming): the error's HTTP
  // status. Once streaming: an error chunk, as OpenAI sends one, and the end.
  void failed(const core::stream_event& event) {
    if (!stream_ || !started_)
      return send_openai_refusal(*res_, event.code, event.text, event.retry_after_ms, request_id_);
    int status = core::http_status(event.code);
    res_->write("data: " + openai_error_json(status, event.text) + "\n\n");
    res_->finish();
  }

  static std::string field(const std::string& json, const char* name) {
    rapidjson::Document d;
    if (!core::json::try_parse(json, d) || !d.IsObject() || !d.HasMember(name)) return "[]";
    return core::json::write(d[name]);
  }

  std::shared_ptr<response> res_;
  std::string request_id_, id_, model_;
  bool stream_, include_usage_;
  std::int64_t created_;
  bool started_ = false;
  std::string text_, sources_ = "[]";
};

}  // namespace

void send_openai_error(response& res, int status, std::string_view message, header_list extra) {
  res.send(status, json_type, openai_error_json(status, message), std::move(extra));
}

void send_openai_refusal(response& res, core::error_code code, std::string_view message,
                         std::int64_t retry_after_ms, const std::string& request_id) {
  send_openai_error(res, core::http_status(code), message,
                    refusal_headers(request_id, retry_after_ms));
}

void askd_service::openai_chat(const request& req, const std::shared_ptr<response>& res) {
  auto id = core::new_request_id();
  openai_request oa;
  try {
    oa = translate(req, cfg_);
  } catch (const bad_param& e) {
    log_refusal(id, req, e.status, e.what());
    return res->send(e.status, json_type, openai_error_json(e.status, e.what(), e.param, e.code),
                     {{"X-Request-Id", id}});
  }
  auto admitted = admit_chat(caller_of(req), oa.chat_body, id);
  if (!admitted) {
    const auto& err = admitted.err();
    return send_openai_refusal(*res, err.code, err.message, err.retry_after_ms, id);
  }
  auto attachment =
      engine_.start_chat(std::move(admitted->request), std::move(admitted->source), id,
                         std::make_shared<openai_port>(res, id, std::move(oa)));
  res->on_disconnect([attachment] { attachment.client_gone(); });
}

// Every provider as a model id (its default model), and each of its configured models.
void askd_service::openai_models(const request&, const std::shared_ptr<response>& res) {
  std::string j = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  auto add = [&](const std::string& id, const std::string& owner) {
    j += std::string(first ? "" : ",") + "{\"id\":" + core::json::quote(id) +
         ",\"object\":\"model\",\"created\":0,\"owned_by\":" + core::json::quote(owner) + "}";
    first = false;
  };
  for (const auto& p : cfg_.generator.providers) {
    add(p.id, p.id);
    for (const auto& m : p.models) add(p.id + "/" + m.id, p.id);
  }
  res->send(200, json_type, j + "]}");
}

}  // namespace askd::net
