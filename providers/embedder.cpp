#include "providers/embedder.hpp"

#include <chrono>
#include <cmath>
#include <future>
#include <random>
#include <thread>

#include "core/json.hpp"
#include "core/tokens.hpp"
#include "providers/google.hpp"
#include "providers/ollama.hpp"
#include "providers/openai.hpp"

namespace askd::providers {
namespace {

// One blocking call on the curl engine: the status, Retry-After and body, or the
// transport's failure.
struct reply {
  long status = 0;
  std::string retry_after;
  std::string body;
  std::optional<core::error> failure;
};

class collecting_listener : public transfer_listener {
 public:
  void on_headers(long status, std::string retry_after) override {
    reply_.status = status;
    reply_.retry_after = std::move(retry_after);
  }
  void on_body(std::string_view bytes) override {
    if (reply_.body.size() < max_body) reply_.body.append(bytes);
  }
  void on_complete(transfer_result result) override {
    if (result.failure) reply_.failure = std::move(result.failure);
    if (!reply_.status) reply_.status = result.http_status;
    done_.set_value(std::move(reply_));
  }
  std::future<reply> result() { return done_.get_future(); }

 private:
  static constexpr std::size_t max_body = 256 << 20;
  reply reply_;
  std::promise<reply> done_;
};

void normalize(vector& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  if (n <= 0) return;
  auto inv = static_cast<float>(1.0 / std::sqrt(n));
  for (float& x : v) x *= inv;
}

// One batch, tried again while the failure is retryable and attempts remain.
// Waits `ms`, in slices, unless askd stops first; false when it did.
bool wait_unless_stopping(const embed_context& ctx, std::chrono::milliseconds ms) {
  auto until = std::chrono::steady_clock::now() + ms;
  while (std::chrono::steady_clock::now() < until) {
    if (ctx.stop && ctx.stop->load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  }
  return !(ctx.stop && ctx.stop->load());
}

// One request: its reply, or why there is none. A request is given the idle timeout as
// its whole time (an embedding answer comes in one piece), and holds a place under the
// embedders' limit while it runs.
std::optional<core::error> embed_once(const embed_context& ctx, const embedder& e,
                                      const std::vector<std::string>& inputs,
                                      std::vector<vector>& out) {
  auto stopped = [] { return core::error::make(core::error_code::cancelled, "askd is stopping"); };
  if (ctx.limit)
    while (!ctx.limit->try_acquire_for(std::chrono::milliseconds(100)))
      if (ctx.stop && ctx.stop->load()) return stopped();
  struct release_on_exit {
    std::counting_semaphore<>* limit;
    ~release_on_exit() {
      if (limit) limit->release();
    }
  } place{ctx.limit};
  auto listener = std::make_shared<collecting_listener>();
  auto future = listener->result();
  auto id = ctx.curl->start(e.build(inputs), listener);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(e.upstream().idle_timeout_ms);
  while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (ctx.stop && ctx.stop->load()) {
      ctx.curl->cancel(id);
      return stopped();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ctx.curl->cancel(id);
      return core::error::make(core::error_code::timeout,
                               "embedder " + e.settings().id + " gave no answer within " +
                                   std::to_string(e.upstream().idle_timeout_ms) +
                                   " ms (upstream.idle_timeout_ms)");
    }
  }
  auto r = future.get();
  if (r.failure) return std::move(r.failure);
  if (r.status >= 300 || r.status < 200) return e.classify(r.status, r.body, r.retry_after);
  return e.parse(r.body, inputs.size(), out);
}

// One batch, tried again as a generation call would be: while the failure is retryable
// and attempts remain, after the provider's Retry-After (one longer than
// max_retry_after_ms is not waited for) or the backoff.
std::optional<core::error> embed_batch(const embed_context& ctx, const embedder& e,
                                       const std::vector<std::string>& inputs,
                                       std::vector<vector>& out) {
  const auto& u = e.upstream();
  thread_local std::mt19937 rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    auto err = embed_once(ctx, e, inputs, out);
    if (!err || !err->retryable || attempt >= u.max_attempts) return err;
    if (err->retry_after_ms > u.max_retry_after_ms) return err;
    std::uniform_real_distribution<double> jitter(1 - u.backoff_jitter, 1 + u.backoff_jitter);
    auto wait = err->retry_after_ms >= 0 ? static_cast<double>(err->retry_after_ms)
                                         : u.backoff_ms * std::pow(2.0, attempt - 1) * jitter(rng);
    if (!wait_unless_stopping(ctx, std::chrono::milliseconds(static_cast<long>(wait)))) return err;
  }
}

}  // namespace

embedder::embedder(core::embedder_settings settings, core::upstream_settings upstream)
    : settings_(std::move(settings)), upstream_(upstream) {
  const auto& c = settings_.client_class;
  if (c == "OllamaClient")
    errors_ = std::make_unique<ollama_provider>(settings_.client, upstream_);
  else if (c == "GoogleEmbedderClient")
    errors_ = std::make_unique<google_provider>(settings_.client, upstream_);
  else
    errors_ = std::make_unique<openai_provider>(settings_.client, upstream_);
}

embedder::~embedder() = default;

std::string embedder::key() const {
  std::string k = settings_.id + "-" + settings_.model + "-" +
                  (settings_.dimensions > 0 ? std::to_string(settings_.dimensions) : "native");
  for (char& ch : k)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') ch = '_';
  return k;
}

upstream_request embedder::build(const std::vector<std::string>& inputs) const {
  const auto& c = settings_.client_class;
  const auto& client = settings_.client;
  upstream_request r;
  r.connect_timeout_ms = upstream_.connect_timeout_ms;
  r.headers = std::make_shared<const header_list>(
      json_headers(c == "GoogleEmbedderClient" ? "x-goog-api-key: " : "Authorization: Bearer ",
                   client.api_key, {}, client.headers));
  auto& b = r.body;
  auto model = core::json::quote(settings_.model);
  if (c == "GoogleEmbedderClient") {
    r.url = client.base_url + "/models/" + uri_encode(settings_.model) + ":batchEmbedContents";
    b = "{\"requests\":[";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (i) b += ',';
      b += "{\"model\":" + core::json::quote("models/" + settings_.model) +
           ",\"content\":{\"parts\":[{\"text\":\"";
      core::json::append_escaped(b, inputs[i]);
      b += "\"}]}";
      if (!settings_.task_type.empty())
        b += ",\"taskType\":" + core::json::quote(settings_.task_type);
      if (settings_.dimensions > 0)
        b += ",\"outputDimensionality\":" + std::to_string(settings_.dimensions);
      b += '}';
    }
    b += "]}";
    return r;
  }
  r.url = client.base_url + (c == "OllamaClient" ? "/api/embed" : "/embeddings");
  b = "{\"model\":" + model;
  if (c != "OllamaClient") {
    b += ",\"encoding_format\":\"float\"";
    if (settings_.dimensions > 0) b += ",\"dimensions\":" + std::to_string(settings_.dimensions);
  } else {
    b += ",\"truncate\":false";  // a long input is split by askd, never cut by the server
  }
  b += ",\"input\":[";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i) b += ',';
    b += '"';
    core::json::append_escaped(b, inputs[i]);
    b += '"';
  }
  b += "]}";
  return r;
}

std::optional<core::error> embedder::parse(std::string_view body, std::size_t n,
                                           std::vector<vector>& out) const {
  auto bad = [&](const std::string& what) {
    return core::error{core::error_code::bad_response,
                       "embedder " + settings_.id + " answered with " + what, false};
  };
  rapidjson::Document doc;
  bool parsed = core::json::try_parse(body, doc);
  if (!parsed || !doc.IsObject()) return bad("a body that is not a JSON object");
  // OpenAI: data[].embedding (with an index); Ollama: embeddings[][]; Gemini:
  // embeddings[].values.
  std::vector<const rapidjson::Value*> arrays(n, nullptr);
  if (const auto* data = member(doc, "data"); data && data->IsArray()) {
    for (rapidjson::SizeType i = 0; i < data->Size(); ++i) {
      const auto& d = (*data)[i];
      auto index = int_of(member(d, "index")).value_or(i);
      if (index < 0 || static_cast<std::size_t>(index) >= n) return bad("an index out of range");
      arrays[static_cast<std::size_t>(index)] = member(d, "embedding");
    }
  } else if (const auto* embs = member(doc, "embeddings"); embs && embs->IsArray()) {
    for (rapidjson::SizeType i = 0; i < embs->Size() && i < n; ++i) {
      const auto& v = (*embs)[i];
      arrays[i] = v.IsArray() ? &v : member(v, "values");
    }
  } else {
    return bad("neither \"data\" nor \"embeddings\"");
  }
  std::size_t dim = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto* a = arrays[i];
    if (!a || !a->IsArray() || a->Empty())
      return bad("no vector for input " + std::to_string(i) + " of " + std::to_string(n));
    if (dim == 0) dim = a->Size();
    if (a->Size() != dim) return bad("vectors of different lengths in one answer");
    vector v;
    v.reserve(dim);
    for (const auto& x : a->GetArray()) {
      if (!x.IsNumber()) return bad("a vector with a value that is not a number");
      v.push_back(static_cast<float>(x.GetDouble()));
    }
    normalize(v);
    out.push_back(std::move(v));
  }
  return std::nullopt;
}

// The chat provider's words name a provider; these are the embedder's.
core::error embedder::as_embedder(core::error e) const {
  auto from = "provider " + settings_.id;
  if (e.message.rfind(from, 0) == 0)
    e.message = "embedder " + settings_.id + e.message.substr(from.size());
  return e;
}

core::error embedder::classify(long status, std::string_view body,
                               std::string_view retry_after) const {
  return as_embedder(errors_->classify(status, body, retry_after));
}

std::optional<core::error> embedder::missing_key() const {
  if (auto e = errors_->missing_key()) return as_embedder(std::move(*e));
  return std::nullopt;
}

std::vector<std::string> split_for_embedding(const std::string& text, std::int64_t max_tokens) {
  std::vector<std::string> parts;
  auto tokens = core::count_tokens(text);
  if (tokens <= max_tokens) {
    parts.push_back(text);
    return parts;
  }
  // Bytes per part from the text's own bytes per token, with a margin.
  auto per_part = std::max<std::size_t>(
      16, static_cast<std::size_t>(static_cast<double>(text.size()) / static_cast<double>(tokens) *
                                   static_cast<double>(max_tokens) * 0.9));
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = std::min(text.size(), at + per_part);
    if (end < text.size()) {
      auto nl = text.rfind('\n', end);
      if (nl != std::string::npos && nl > at + per_part / 2) end = nl + 1;
      while (end > at + 1 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    }
    parts.push_back(text.substr(at, end - at));
    at = end;
  }
  return parts;
}

embedding embed_texts(const embed_context& ctx, const embedder& e,
                      const std::vector<std::string>& texts,
                      const std::function<void(std::size_t, std::size_t)>& progress) {
  embedding result;
  if (auto missing = e.missing_key()) {
    result.failure = std::move(missing);
    return result;
  }
  // Every part of every text, in order; owner[i] is the text part i belongs to.
  std::vector<std::string> parts;
  std::vector<std::size_t> owner;
  for (std::size_t t = 0; t < texts.size(); ++t)
    for (auto& p : split_for_embedding(texts[t], e.settings().max_input_tokens)) {
      parts.push_back(std::move(p));
      owner.push_back(t);
    }
  std::vector<vector> part_vectors;
  part_vectors.reserve(parts.size());
  // Batches of at most batch_size inputs and max_batch_tokens tokens (OpenAI refuses a
  // request whose inputs sum past its own limit).
  const auto max_count = static_cast<std::size_t>(e.settings().batch_size);
  const auto max_tokens = e.settings().max_batch_tokens;
  for (std::size_t from = 0; from < parts.size();) {
    std::vector<std::string> inputs;
    std::int64_t tokens = 0;
    while (from < parts.size() && inputs.size() < max_count) {
      auto t = core::count_tokens(parts[from]);
      if (!inputs.empty() && tokens + t > max_tokens) break;
      tokens += t;
      inputs.push_back(parts[from++]);
    }
    if (auto err = embed_batch(ctx, e, inputs, part_vectors)) {
      result.failure = std::move(err);
      return result;
    }
    if (progress) progress(from, parts.size());
  }
  // A text of several parts: the mean of its parts, made unit length again.
  result.vectors.assign(texts.size(), {});
  for (std::size_t i = 0; i < part_vectors.size(); ++i) {
    auto& v = result.vectors[owner[i]];
    if (v.empty())
      v = part_vectors[i];
    else
      for (std::size_t d = 0; d < v.size() && d < part_vectors[i].size(); ++d)
        v[d] += part_vectors[i][d];
  }
  for (auto& v : result.vectors) normalize(v);
  return result;
}

}  // namespace askd::providers
