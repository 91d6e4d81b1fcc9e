// core/config.hpp — one struct per file of conf/, loaded and validated in one
// place (load_config) and passed down. Environment variables named by the files
// (API keys, base URLs) are read here and nowhere else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace askd::core {

// Raised when a config file is wrong; the message names the file, the key and what was
// expected, e.g. `conf/askd.json: server.port: expected an integer from 0 to 65535, got "x"`.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// conf/askd.json "server"
struct server_settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8001;
  int io_threads = 0;  // asio threads; 0 = one per four cores (at least one)
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_connections = 10000;
  int header_timeout_ms = 30000;            // to receive a whole request
  int idle_timeout_ms = 120000;             // keep-alive connection with no request
  int ws_idle_timeout_ms = 30000;           // WebSocket: pinged half of it silent, closed after all
  std::size_t write_queue_bytes = 1 << 20;  // per connection; past it the client is too slow
  int shutdown_grace_ms = 10000;            // streams get this long to finish on SIGTERM
  // Request bodies (and WebSocket messages) being received at once, over every
  // connection; past it a new one is refused (503 + Retry-After) before it is read.
  std::size_t body_budget_bytes = 64 << 20;
  // Origins whose pages may call askd from a browser ("https://wiki.example.com",
  // "http://localhost:3000"; "*" for any). Empty: same-origin only. A request that
  // carries another Origin is refused (403), a WebSocket upgrade too.
  std::vector<std::string> cors_origins;
  // Addresses ("10.0.0.7") or networks ("10.0.0.0/8", "fd00::/8") of reverse proxies
  // whose X-Forwarded-For names the client; everyone else is their own address.
  std::vector<std::string> trusted_proxies;
};

// conf/askd.json "engine"
struct engine_settings {
  int workers = 0;  // CAF scheduler threads; 0 = one per core but one (at least one)
  // Upstream (curl) threads, each with its own transfers: 0 = three per four cores (at
  // least one). Each carries ~30k deltas a second on its own (bench/RESULTS.md, capacity model).
  int curl_threads = 0;
};

// conf/askd.json "upstream": how provider calls are made.
struct upstream_settings {
  int connect_timeout_ms = 10000;
  int first_token_timeout_ms = 30000;
  int idle_timeout_ms = 60000;
  std::size_t max_error_body_bytes = 64 * 1024;
  int max_attempts = 3;            // tries per provider for a retryable failure before any text
  int backoff_ms = 1000;           // before retry n: backoff_ms * 2^(n-1), with jitter
  double backoff_jitter = 0.2;     // the delay is scaled by a random factor in 1 +- this
  int max_retry_after_ms = 60000;  // a provider's Retry-After longer than this is not waited for
  // The least cap on each curl thread's connection cache (in use and idle): libcurl's own
  // is four per call in flight, so the last quarter of a burst to end closed their
  // connections and the next burst opened them again. libcurl still drops one the server
  // closed or one idle past 118 s. 0: libcurl's rule alone.
  int idle_connections = 256;
  // PEM: the CAs an upstream's certificate may be signed by, in place of the system's
  // bundle (a private CA, or a TLS-inspecting proxy's). "": the system's.
  std::string cafile;
};

// conf/askd.json "limits": what askd takes on before it refuses (429 + Retry-After).
struct provider_limit {
  int max_concurrent = 2048;  // calls to the provider at once
  int max_queued = 2048;      // requests admitted for it and waiting (retrieving, or for a slot)
};

struct limits_settings {
  int request_timeout_ms = 600000;  // a request's whole life: queue, indexing, retries, answer
  int max_queued_requests = 4096;   // admitted requests not yet generating, all providers
  double client_rate = 0;           // requests per second per client (API key or address); 0: off
  int client_burst = 20;            // requests a client may make at once before its rate applies
  int retry_after_s = 1;            // what a refusal's Retry-After says for a full queue
  provider_limit provider_default;
  std::map<std::string, provider_limit> providers;  // per provider id, instead of the default

  const provider_limit& for_provider(const std::string& id) const;
};

// conf/askd.json "streams": how answers outlive their connections (the v1 face).
struct streams_settings {
  int linger_s = 120;                  // a finished stream stays resumable this long
  int detach_grace_s = 60;             // a v1 stream with no client left is cancelled after this
  std::size_t replay_bytes = 4 << 20;  // events kept for resuming, per stream; oldest go first
  int ping_s = 15;                     // an SSE comment after this long without an event
  // In a cluster of two or more: each v1/background stream's events are copied to a
  // replica node before clients see them, and the replica takes the stream over when
  // this node is lost (README, Cluster).
  bool replicate = true;
};

// conf/askd.json "auth"
struct auth_settings {
  std::vector<std::string> api_keys;  // when set, every endpoint but /health needs one
};

// conf/askd.json "repos": where repositories may come from.
struct repos_settings {
  std::vector<std::string> local_roots;  // local paths are served only under these (canonical)
  // Remote repositories come only from these hosts ("host" on any port, "host:port" on
  // that one), and only
  // over https unless allow_http. Loopback, private and link-local addresses are hosts
  // like any other: refused unless listed.
  std::vector<std::string> allowed_hosts{"github.com", "gitlab.com", "bitbucket.org"};
  bool allow_http = false;
  int clone_timeout_s = 300;             // a clone or fetch taking longer is killed
  int index_timeout_s = 600;             // a scan + index build taking longer is stopped
  std::uint64_t max_repo_mb = 2048;      // a checkout growing past this is killed
  int refresh_interval_s = 300;          // a remote is fetched again at most this often
  int max_concurrent_builds = 2;         // index builds (clone + index) at once
  int max_queued_builds = 64;            // builds waiting for a slot; past it: overloaded
  std::uint64_t index_memory_mb = 1024;  // open indexes past this are closed, least recent
                                         // first (0: only the one in use stays open)
  // Checkouts and indexes on disk past this are removed, least recently used first
  // (never one in use); 0: no limit.
  std::uint64_t disk_mb = 10240;
};

// conf/repo.json: which files are read and how they are cut.
struct repo_settings {
  std::string source;
  std::vector<std::string> excluded_dirs;   // as written ("./node_modules/")
  std::vector<std::string> excluded_files;  // globs on the file name, or on the path with a '/'
  std::vector<std::string> extensions;      // ".cpp"; only these are read
  std::size_t max_file_bytes = 1 << 20;
  std::size_t max_files = 200000;
  int chunk_words = 350;
  int chunk_overlap_words = 100;
};

// conf/askd.json "cluster": several askd nodes acting as one server (docs/ARCHITECTURE.md,
// Cluster). Off unless `listen` is set.
struct cluster_settings {
  std::string node;            // this node's name, unique in the cluster ([a-z0-9-], <= 32);
                               // "" = derived from the listen address
  std::string listen;          // "host:port" other nodes connect to; "" = not clustered
  std::vector<std::string> seeds;  // "host:port" of nodes to join through (any one will do)
  double weight = 1;               // this node's part of cluster-wide limits, relative to the others
  int heartbeat_ms = 1000;         // BASP heartbeat between nodes
  int timeout_ms = 5000;           // a peer silent this long is declared down
  int connect_timeout_ms = 5000;   // one attempt to connect to a peer
  int reconnect_ms = 2000;         // how often seeds and lost peers are tried again
  int request_timeout_ms = 30000;  // a cross-node request (retrieval, attach) without an answer
  // TLS with mutual certificate authentication (the cluster's own CA). Required unless
  // `insecure` says plain TCP on purpose (loopback tests, a private wire).
  bool insecure = false;
  std::string certificate;  // PEM: this node's certificate
  std::string key;          // PEM: its private key
  std::string cafile;       // PEM: the cluster's CA; peers must present a certificate it signed
  std::string passphrase;   // of the key, if encrypted; never logged
  bool enabled() const { return !listen.empty(); }
};

// conf/askd.json "log"
struct log_settings {
  std::string level = "info";
};

// One model of a provider (conf/generator.json providers.<id>.models.<model>).
struct model_settings {
  std::string id;
  std::string params_json = "{}";   // the model's parameters as written, for the provider adapter
  std::int64_t context_window = 0;  // tokens; 0 = unknown
};

// One provider (conf/generator.json providers.<id>).
struct provider_settings {
  std::string id;
  std::string name;          // display name for /models/config
  std::string client_class;  // deepwiki-open's name of the wire format, e.g. "OpenAIClient"
  std::string default_model;
  bool supports_custom_model = true;
  std::vector<model_settings> models;
  // client settings
  std::string base_url;                        // after applying base_url_env
  std::string base_url_env;                    // the variable that may set it
  std::string api_key_env;                     // the variable holding the key ("" = no key needed)
  std::string api_key;                         // its value at start; never logged
  std::map<std::string, std::string> headers;  // extra request headers
  bool include_usage = true;  // ask for usage in the stream (stream_options.include_usage)
  std::string api_version;    // Azure OpenAI's api-version (after applying api_version_env)
  bool strip_think = true;    // Ollama: drop <think>...</think> from the answer
  // AWS (Bedrock): the key above is the access key id; these come from the variables
  // conf names (region_env, secret_env, session_token_env); never logged.
  std::string region;
  std::string secret_key;
  std::string session_token;
  std::string secret_env;

  const model_settings* find_model(const std::string& model) const;
};

// conf/generator.json
struct generator_settings {
  std::string source;  // where it was read from, for error messages
  std::string default_provider;
  std::vector<std::string> fallback;  // tried in order when a request names none
  std::vector<provider_settings> providers;

  const provider_settings* find(const std::string& id) const;
};

// One embedder (conf/embedder.json embedders.<id>): a wire format, a model, and how
// much one request may carry.
struct embedder_settings {
  std::string id;
  std::string client_class;  // OpenAIClient | OllamaClient | GoogleEmbedderClient
  std::string model;
  int dimensions = 0;     // asked of the model when > 0 (OpenAI's text-embedding-3)
  std::string task_type;  // Gemini's taskType, when set
  int batch_size = 64;    // inputs per request
  std::int64_t max_batch_tokens = 100000;  // and tokens per request, summed over its inputs
  int max_input_tokens = 2000;  // longer inputs are split, embedded in parts and averaged
  provider_settings client;     // base_url, key and headers, as a provider's "client"
};

// conf/embedder.json
struct embedder_config {
  std::string source;
  std::string default_embedder;
  int max_concurrent = 4;  // embedding requests in flight at once, over every repository
  std::vector<embedder_settings> embedders;

  const embedder_settings* find(const std::string& id) const;
};

// conf/lang.json
struct language_settings {
  std::vector<std::pair<std::string, std::string>> supported;  // code -> name, in file order
  std::string default_code = "en";
  std::string json;  // the file's content, served at /lang/config

  const std::string* name_of(const std::string& code) const;
};

// deepwiki-open's wiki cache (/api/wiki_cache), under <data_dir>/wikicache: past either
// bound the least recently written wikis go. One wiki is at most server.max_body_bytes.
struct wiki_cache_settings {
  std::size_t max_entries = 1000;
  std::uint64_t max_mb = 512;
};

// Answers replayed for the same question (actors/answer_cache.hpp): an answer whose
// generation had the same provider, model, prompt and repository token is streamed again
// from memory for `ttl_s`, the least recently used going first past `max_mb`; identical
// questions asked while one is being answered share its upstream call. Off: every
// question goes upstream. A request opts out with "cache": false.
struct answer_cache_settings {
  bool enabled = true;
  std::uint64_t max_mb = 64;
  int ttl_s = 600;
};

struct config {
  std::string source;  // where askd.json came from
  server_settings server;
  engine_settings engine;
  upstream_settings upstream;
  limits_settings limits;
  streams_settings streams;
  auth_settings auth;
  log_settings log;
  repos_settings repos;
  cluster_settings cluster;
  wiki_cache_settings wiki_cache;
  answer_cache_settings answer_cache;
  std::string data_dir = "~/.askd";
  generator_settings generator;
  embedder_config embedders;
  repo_settings repo;
  language_settings languages;
};

// Where to read from. An empty `path` means the embedded defaults; a file path names
// askd.json; a directory holds askd.json, generator.json and lang.json. A file missing
// from the directory falls back to its embedded default.
struct load_options {
  std::string path;
  std::optional<std::string> host;
  std::optional<std::uint16_t> port;
  std::optional<std::string> data_dir;
  std::optional<std::string> log_level;
  std::vector<std::string> allow_local;  // --allow-local, added to repos.local_roots
  std::vector<std::string> cors_origins;  // --cors-origin, added to server.cors_origins
  std::optional<std::string> cluster_listen;  // --cluster-listen
  std::optional<std::string> cluster_seeds;   // --cluster-seeds, comma-separated
  std::optional<std::string> cluster_node;    // --cluster-node
  // Reads an environment variable; tests replace it.
  std::string (*getenv)(const char* name) = nullptr;
};

// Loads and validates everything; throws config_error.
config load_config(const load_options& options);

// Validators for each file's text, exposed for tests. `source` names the file in errors.
void parse_server_config(const std::string& text, const std::string& source, config& out);
generator_settings parse_generator_config(const std::string& text, const std::string& source,
                                          std::string (*getenv)(const char*));
language_settings parse_language_config(const std::string& text, const std::string& source);
repo_settings parse_repo_config(const std::string& text, const std::string& source);
embedder_config parse_embedder_config(const std::string& text, const std::string& source,
                                      std::string (*getenv)(const char*) = nullptr);

// The conf/ files compiled into the binary.
extern const char* const embedded_askd_json;
extern const char* const embedded_generator_json;
extern const char* const embedded_lang_json;
extern const char* const embedded_repo_json;
extern const char* const embedded_embedder_json;

// "host:port" → host and port; nullopt when it is not that (a port of 1..65535; an IPv6
// host in brackets).
std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text);
// Whether `name` can name a cluster node: 1..32 of [a-z0-9-].
bool is_node_name(const std::string& name);

// `~/x` → `$HOME/x`.
std::string expand_home(const std::string& path, std::string (*getenv)(const char*));

}  // namespace askd::core
