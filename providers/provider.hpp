// providers/provider.hpp — a provider is one wire format plus its settings: it builds
// the upstream HTTP request, decodes the streamed body into deltas, and maps error
// responses onto the supervisor's classes (core::error_code). It does no I/O: the
// curl engine moves the bytes and the provider_call actor drives the decoder.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "core/chat_request.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "core/text.hpp"
#include "providers/curl_engine.hpp"
#include "providers/sse_parser.hpp"

namespace askd::providers {

// What one generation asks of a provider.
struct generation_request {
  std::vector<core::chat_message> messages;  // system first, then the turns; the last is the user's
  std::string model;
};

// What a decoder finds in a successful response body.
class decode_events {
 public:
  virtual ~decode_events() = default;
  virtual void on_delta(std::string_view text) = 0;
  virtual void on_usage(const core::token_usage& usage) = 0;
  virtual void on_finish_reason(std::string_view reason) = 0;
};

// Turns the body of a successful (2xx) streamed response into events. Bytes arrive in
// any split; an error (malformed data, an error the provider reports inside the
// stream, a stream cut before its end marker) is returned as a value.
class stream_decoder {
 public:
  virtual ~stream_decoder() = default;
  virtual std::optional<core::error> feed(std::string_view bytes, decode_events& out) = 0;
  // The body ended; an error when the end marker never came.
  virtual std::optional<core::error> finish(decode_events& out) = 0;
};

// What every provider's decoder says alike: the error classes of a broken stream, and
// whether the format's end marker has come.
class decoder_base : public stream_decoder {
 public:
  explicit decoder_base(std::string provider_id) : provider_(std::move(provider_id)) {}

 protected:
  // Not retryable: the same request would get the same bytes.
  core::error bad(const std::string& what) const;
  // The body ended before the format's end marker: retryable (and continued).
  core::error cut_short(std::string_view marker) const;
  // An error object the provider sent inside a 200 stream, in its own words.
  core::error in_stream(const std::string& message, core::error_code code) const;

  std::string provider_;
  bool done_ = false;  // the end marker came: later bytes are ignored
};

// The decoders whose body is Server-Sent Events (OpenAI, Gemini, Anthropic): framing,
// the bound on an event, stopping after the end marker.
class sse_decoder : public decoder_base {
 public:
  using decoder_base::decoder_base;
  std::optional<core::error> feed(std::string_view bytes, decode_events& out) final;

 protected:
  // One event; set `done_` at the format's end marker.
  virtual std::optional<core::error> take(const sse_view& ev, decode_events& out) = 0;

 private:
  sse_parser parser_;
};

class provider {
 public:
  provider(core::provider_settings settings, core::upstream_settings upstream);
  virtual ~provider() = default;

  const core::provider_settings& settings() const { return settings_; }
  const std::string& id() const { return settings_.id; }

  virtual upstream_request build(const generation_request& request) const = 0;
  virtual std::unique_ptr<stream_decoder> decoder() const = 0;
  // Maps a non-2xx response (status, body, Retry-After) to an error class.
  virtual core::error classify(long status, std::string_view body,
                               std::string_view retry_after) const = 0;

  // True for a provider that answers without any upstream call (`local`): the session
  // writes its answer from the retrieved context instead of calling build().
  virtual bool offline() const { return false; }

  // The error to report without calling when the provider needs a key (or an endpoint)
  // it does not have.
  virtual std::optional<core::error> missing_key() const;

 protected:
  // The common status → class mapping; `message` is the provider's own words and
  // `context_length` whether they say the prompt was too long.
  core::error classify_status(long status, const std::string& message, std::string_view retry_after,
                              bool context_length) const;
  // The same for a provider whose error body names its kind of error (Gemini's status
  // word, Anthropic's error type): classified as `as_status` (what the kind means), the
  // message (else the body's start) and the kind in the words, the real status kept.
  core::error classify_kind(long status, long as_status, std::string message, std::string_view kind,
                            std::string_view body, std::string_view retry_after) const;

  // The request headers every call sends (json_headers, with this provider's key).
  void set_headers(std::string_view key_header, std::initializer_list<std::string_view> extra);
  // A request to `url` with those headers and the connect timeout; the body is the caller's.
  upstream_request request_to(std::string url) const;

  core::provider_settings settings_;
  core::upstream_settings upstream_;
  std::shared_ptr<const header_list> headers_;
};

// Room for a request's body in one allocation: its texts, some escapes and the JSON
// around them (a reserve followed by `body = "..." + ...` would drop the reservation).
std::size_t body_bytes(const generation_request& request);

// The system messages of a request, joined: for wire formats that take the system
// prompt apart from the turns (Gemini, Anthropic, Bedrock).
std::string system_prompt(const generation_request& request);

// Appends the request's turns but the system ones, comma-separated, each as
// {"role":"user"|`assistant_role`,<text_before>escaped content<text_after>}: the turns
// of the formats that take the system prompt apart.
void append_turns(std::string& body, const generation_request& request,
                  std::string_view assistant_role, std::string_view text_before,
                  std::string_view text_after);

// Anthropic's stop reasons (Bedrock's Converse uses the same names, and its own for a
// guardrail) in the words the other providers use.
std::string stop_reason_words(std::string_view reason);

// Every configured provider, built once at start.
class provider_registry {
 public:
  // Throws core::config_error naming the file and key for an unknown client_class.
  explicit provider_registry(const core::config& cfg);
  std::shared_ptr<const provider> find(const std::string& id) const;

 private:
  std::map<std::string, std::shared_ptr<const provider>> providers_;
};

// Lenient reads for decoders (a missing or differently typed field is absent, not an
// exception): the member `key` of an object, a string's text, an integer.
const rapidjson::Value* member(const rapidjson::Value& v, const char* key);
std::string_view text_of(const rapidjson::Value* v);
std::optional<std::int64_t> int_of(const rapidjson::Value* v);

// The model parameters (conf/generator.json) a wire format takes, as JSON members ready
// to splice into a request body (`"topP":0.8,...`, no leading comma): each pair names
// the key in conf and the key on the wire.
std::string params_fragment(const std::string& params_json,
                            std::initializer_list<std::pair<const char*, const char*>> keys);

// The headers of a JSON request: content type, then `extra`, the key after `key_header`
// (when both are set), conf's own headers (chat calls and embedding calls alike).
std::vector<std::string> json_headers(std::string_view key_header, const std::string& key,
                                      std::initializer_list<std::string_view> extra,
                                      const std::map<std::string, std::string>& conf_headers);

// Percent-encodes all but RFC 3986's unreserved characters (A-Z a-z 0-9 - _ . ~): for a
// model name in a URL path (a client's custom model must not reach another path).
std::string uri_encode(std::string_view s);

// "120" or an HTTP-date → milliseconds from now; -1 when absent or unreadable.
std::int64_t parse_retry_after(std::string_view value);

// Whether a provider's error text says the prompt is over the model's context window.
bool says_context_length(std::string_view message);

using core::utf8_prefix;

}  // namespace askd::providers
