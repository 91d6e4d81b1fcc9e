#include "providers/bedrock.hpp"

#include "core/json.hpp"
#include "providers/aws.hpp"

namespace askd::providers {
namespace {

class bedrock_decoder : public decoder_base {
 public:
  using decoder_base::decoder_base;

  std::optional<core::error> feed(std::string_view bytes, decode_events& out) override {
    if (done_) return std::nullopt;
    messages_.clear();
    if (auto broken = frames_.feed(bytes, messages_)) return bad(*broken);
    for (const auto& m : messages_) {
      if (auto err = take(m, out)) return err;
      if (done_) break;
    }
    return std::nullopt;
  }

  std::optional<core::error> finish(decode_events&) override {
    if (done_ || stopped_) return std::nullopt;
    return cut_short("messageStop");
  }

 private:
  std::optional<core::error> take(const aws::event_message& m, decode_events& out) {
    auto header = [&](const char* name) -> std::string_view {
      auto it = m.headers.find(name);
      return it == m.headers.end() ? std::string_view() : std::string_view(it->second);
    };
    core::json::small_document parsed;
    bool parsed_ok = parsed.parse(m.payload);
    auto& doc = parsed.doc();
    if (!parsed_ok || !doc.IsObject())
      return bad("a message payload that is not a JSON object: " + utf8_prefix(m.payload, 120));
    if (header(":message-type") == "exception") {
      auto kind = header(":exception-type");
      auto message = std::string(text_of(member(doc, "message"))) + " (" + std::string(kind) + ")";
      if (kind == "validationException" && !says_context_length(message))
        return core::error{core::error_code::bad_response,
                           "provider " + provider_ + " refused the request mid-stream: " + message,
                           false};
      return in_stream(message, kind == "throttlingException" ? core::error_code::rate_limited
                                                              : core::error_code::upstream);
    }
    auto type = header(":event-type");
    if (type == "contentBlockDelta") {
      if (const auto* delta = member(doc, "delta")) {
        auto text = text_of(member(*delta, "text"));
        if (!text.empty()) out.on_delta(text);
      }
    } else if (type == "messageStop") {
      stopped_ = true;
      out.on_finish_reason(stop_reason_words(text_of(member(doc, "stopReason"))));
    } else if (type == "metadata") {
      if (const auto* usage = member(doc, "usage")) {
        core::token_usage u;
        u.prompt_tokens = int_of(member(*usage, "inputTokens")).value_or(0);
        u.completion_tokens = int_of(member(*usage, "outputTokens")).value_or(0);
        out.on_usage(u);
      }
      done_ = true;  // the last message of a ConverseStream
    }
    return std::nullopt;
  }

  aws::event_stream_decoder frames_;
  std::vector<aws::event_message> messages_;
  bool stopped_ = false;
};

}  // namespace

bedrock_provider::bedrock_provider(core::provider_settings settings,
                                   core::upstream_settings upstream)
    : provider(std::move(settings), upstream) {
  if (settings_.region.empty()) settings_.region = "us-east-1";
  if (settings_.base_url.empty())
    settings_.base_url = "https://bedrock-runtime." + settings_.region + ".amazonaws.com";
  // The Host header is signed, so askd writes it itself: the URL's authority, without a
  // default port (as libcurl would send it).
  auto rest = settings_.base_url.substr(settings_.base_url.find("://") + 3);
  auto slash = rest.find('/');
  host_ = rest.substr(0, slash);
  path_prefix_ = slash == std::string::npos ? "" : rest.substr(slash);
  bool https = settings_.base_url.rfind("https://", 0) == 0;
  for (std::string_view default_port : {https ? ":443" : ":80"})
    if (host_.size() > default_port.size() &&
        host_.compare(host_.size() - default_port.size(), default_port.size(), default_port) == 0)
      host_.resize(host_.size() - default_port.size());
  for (const auto& m : settings_.models) {
    auto frag = params_fragment(m.params_json, {{"max_tokens", "maxTokens"},
                                                {"temperature", "temperature"},
                                                {"top_p", "topP"},
                                                {"stop", "stopSequences"}});
    config_.emplace(m.id, frag.empty() ? frag : ",\"inferenceConfig\":{" + frag + "}");
  }
  // Signed per request (the signature covers the time): only conf's own headers here.
  set_headers("", {"Accept: application/vnd.amazon.eventstream"});
}

std::optional<core::error> bedrock_provider::missing_key() const {
  if (!settings_.api_key.empty() && !settings_.secret_key.empty()) return std::nullopt;
  return core::error{
      core::error_code::unauthorized,
      "provider " + settings_.id + " has no AWS credentials: set " +
          (settings_.api_key_env.empty() ? "AWS_ACCESS_KEY_ID" : settings_.api_key_env) + " and " +
          (settings_.secret_env.empty() ? "AWS_SECRET_ACCESS_KEY" : settings_.secret_env) +
          " in askd's environment",
      false};
}

upstream_request bedrock_provider::build(const generation_request& request) const {
  return build_at(request, aws::amz_date_now());
}

upstream_request bedrock_provider::build_at(const generation_request& request,
                                            const std::string& amz_date) const {
  auto path = path_prefix_ + "/model/" + uri_encode(request.model) + "/converse-stream";
  auto r = request_to(
      settings_.base_url.substr(0, settings_.base_url.size() - path_prefix_.size()) + path);
  auto& b = r.body;
  auto system = system_prompt(request);
  b.reserve(body_bytes(request));
  b = "{\"messages\":[";
  append_turns(b, request, "assistant", "\"content\":[{\"text\":\"", "\"}]");
  b += ']';
  if (!system.empty()) {
    b += ",\"system\":[{\"text\":\"";
    core::json::append_escaped(b, system);
    b += "\"}]";
  }
  if (auto it = config_.find(request.model); it != config_.end()) b += it->second;
  b += '}';

  aws::signing_input in;
  in.method = "POST";
  in.path = path;
  in.headers = {{"content-type", "application/json"}, {"host", host_}, {"x-amz-date", amz_date}};
  if (!settings_.session_token.empty())
    in.headers.emplace_back("x-amz-security-token", settings_.session_token);
  in.payload = b;
  in.amz_date = amz_date;
  in.region = settings_.region;
  in.service = "bedrock";
  in.access_key = settings_.api_key;
  in.secret_key = settings_.secret_key;
  // Signed per request: this list is the request's own.
  auto lines = r.headers->lines();
  lines.push_back("Host: " + host_);
  lines.push_back("X-Amz-Date: " + amz_date);
  if (!settings_.session_token.empty())
    lines.push_back("X-Amz-Security-Token: " + settings_.session_token);
  lines.push_back("Authorization: " + aws::authorization(in));
  r.headers = std::make_shared<const header_list>(std::move(lines));
  return r;
}

std::unique_ptr<stream_decoder> bedrock_provider::decoder() const {
  return make_bedrock_decoder(settings_.id);
}

core::error bedrock_provider::classify(long status, std::string_view body,
                                       std::string_view retry_after) const {
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  std::string message;
  if (parsed) {
    message = std::string(text_of(member(doc, "message")));
    if (message.empty()) message = std::string(text_of(member(doc, "Message")));
  }
  // AWS says a wrong key or signature with 403 (UnrecognizedClientException,
  // InvalidSignatureException) and throttling with 429 or 400 ThrottlingException.
  auto as_status = message.find("security token") != std::string::npos ||
                           message.find("signature") != std::string::npos
                       ? 403L
                       : status;
  return classify_kind(status, as_status, utf8_prefix(message, 500), "", body, retry_after);
}

std::unique_ptr<stream_decoder> make_bedrock_decoder(std::string provider_id) {
  return std::make_unique<bedrock_decoder>(std::move(provider_id));
}

}  // namespace askd::providers
