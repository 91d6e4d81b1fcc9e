#include "tests/support/e2e_env.hpp"

#include <filesystem>

#include "core/json.hpp"
#include "tests/support/test_client.hpp"

namespace askd::test {

e2e_env::e2e_env(void (*tweak)(core::config&)) {
  mock = std::make_shared<askmock::mock_service>(askmock::mock_options{"sk-test"});
  net::server_limits limits;
  mock_server = std::make_unique<net::http_server>(mock, limits, 1);
  mock_port = mock_server->listen("127.0.0.1", 0);
  mock_server->run();

  core::load_options opts;
  opts.getenv = [](const char*) { return std::string(); };
  auto cfg = core::load_config(opts);
  cfg.server.port = 0;
  cfg.server.shutdown_grace_ms = 0;
  cfg.engine.workers = 2;
  cfg.upstream.backoff_ms = 5;  // retries stay, their waits shrink
  // Each provider at askmock, under the path its real service has.
  auto mock_url = "http://127.0.0.1:" + std::to_string(mock_port);
  for (auto& p : cfg.generator.providers) {
    const auto& c = p.client_class;
    bool at_root = c == "OllamaClient" || c == "AzureAIClient" || c == "BedrockClient";
    p.base_url = mock_url + (c == "GoogleGenAIClient" ? "/v1beta" : at_root ? "" : "/v1");
    p.api_key = "sk-test";
    p.secret_key = "sk-test";  // Bedrock's: askmock checks the signature with its key
  }
  for (auto& e : cfg.embedders.embedders) {
    const auto& c = e.client_class;
    e.client.base_url = mock_url + (c == "GoogleEmbedderClient" ? "/v1beta"
                                    : c == "OllamaClient"       ? ""
                                                                : "/v1");
    e.client.api_key = "sk-test";
  }
  cfg.data_dir = data_dir.path;
  cfg.repos.local_roots = {std::filesystem::canonical(ASKD_FIXTURES).string()};
  if (tweak) tweak(cfg);
  askd = std::make_unique<net::askd_server>(std::move(cfg));
  port = askd->start();
}

e2e_env::~e2e_env() {
  askd.reset();
  mock_server.reset();
}

bool e2e_env::settles() const {
  return eventually([&] {
    return askd->census().total() == 0 && askd->upstream_calls() == 0 &&
           askd->limiter_occupancy() == 0 && mock->stats().active == 0;
  });
}

std::string local_body(const std::string& question, const std::string& repo) {
  return "{\"repo_url\":" + core::json::quote(repo) +
         ",\"type\":\"local\",\"messages\":[{\"role\":\"user\",\"content\":" +
         core::json::quote(question) + "}]}";
}

std::string chat_body(const std::string& question, const std::string& mock,
                      const std::string& provider) {
  std::string content = question;
  if (!mock.empty()) content += " #mock" + mock;
  return "{\"repo_url\":\"https://github.com/askd/example\",\"provider\":" +
         core::json::quote(provider) +
         ","
         "\"retrieval\":{\"mode\":\"none\"},"
         "\"messages\":[{\"role\":\"user\",\"content\":" +
         core::json::quote(content) + "}]}";
}

}  // namespace askd::test
