// Config is validated at start: errors name the file, the key and what was expected.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "core/config.hpp"

using namespace askd::core;

namespace {
std::string no_env(const char*) {
  return {};
}

std::string server_error(const std::string& text) {
  config c;
  try {
    parse_server_config(text, "conf/askd.json", c);
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("no error for " << text);
  return {};
}

std::string generator_error(const std::string& text) {
  try {
    parse_generator_config(text, "conf/generator.json", &no_env);
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("no error for " << text);
  return {};
}
}  // namespace

TEST_CASE("the embedded configuration loads") {
  load_options o;
  o.getenv = &no_env;
  auto c = load_config(o);
  CHECK(c.server.port == 8001);
  CHECK(c.server.host == "127.0.0.1");
  CHECK(c.server.max_body_bytes == 1048576);
  CHECK(c.generator.default_provider == "local");
  CHECK(c.repo.extensions.size() > 20);
  CHECK(c.repo.chunk_words == 350);
  CHECK(c.generator.find("openai")->base_url == "https://api.openai.com/v1");
  CHECK(c.generator.find("openai")->api_key.empty());
  CHECK(c.languages.default_code == "en");
  CHECK(c.answer_cache.enabled);
  CHECK(c.answer_cache.max_mb == 64);
  CHECK(c.answer_cache.ttl_s == 600);
  CHECK(c.server.ws_idle_timeout_ms == 30000);  // pinged after 15 s of silence, closed after 30
  CHECK(c.upstream.cafile.empty());             // the system's CA bundle
}

TEST_CASE("server config errors name the file - the key and the expectation") {
  CHECK(server_error(R"({"server":{"port":"x"}})") ==
        "conf/askd.json: server.port: expected an integer from 0 to 65535, got \"x\"");
  CHECK(server_error(R"({"server":{"port":70000}})").find("server.port") != std::string::npos);
  CHECK(server_error(R"({"server":{"prot":1}})").find("server.prot") != std::string::npos);
  CHECK(server_error(R"({"log":{"level":"loud"}})").find("log.level") != std::string::npos);
  CHECK(server_error(R"({"server":)").find("conf/askd.json") == 0);
  CHECK(server_error(R"({"answer_cache":{"ttl_s":0}})").find("answer_cache.ttl_s") !=
        std::string::npos);
  CHECK(server_error(R"({"answer_cache":{"max_mb":0}})").find("answer_cache.max_mb") !=
        std::string::npos);
  CHECK(server_error(R"({"answer_cache":{"enabled":"yes"}})").find("answer_cache.enabled") !=
        std::string::npos);
  CHECK(server_error(R"({"answer_cache":{"size":1}})").find("answer_cache.size") !=
        std::string::npos);
  CHECK(server_error(R"({"server":{"ws_idle_timeout_ms":50}})") ==
        "conf/askd.json: server.ws_idle_timeout_ms: expected an integer from 200 to 86400000, got "
        "50");
}

TEST_CASE("generator config errors name the provider and key") {
  auto unknown_default = generator_error(
      R"({"default_provider":"gemini","providers":{"openai":{"client_class":"OpenAIClient","default_model":"m","models":{"m":{}}}}})");
  CHECK(unknown_default.find("conf/generator.json: default_provider") == 0);
  CHECK(unknown_default.find("openai") != std::string::npos);
  CHECK(generator_error(
            R"({"default_provider":"a","providers":{"a":{"default_model":"m","models":{}}}})")
            .find("providers.a.client_class") != std::string::npos);
  CHECK(
      generator_error(
          R"({"default_provider":"a","providers":{"a":{"client_class":"OpenAIClient","default_model":"m","models":{"m":{"context_window":"big"}}}}})")
          .find("providers.a.models.m.context_window") != std::string::npos);
  CHECK(
      generator_error(
          R"({"default_provider":"a","providers":{"a":{"client_class":"OpenAIClient","default_model":"m","models":{"m":{}},"client":{"base":"x"}}}})")
          .find("providers.a.client.base") != std::string::npos);
}

TEST_CASE("keys and base URLs come from the variables conf names") {
  auto g = parse_generator_config(
      R"({"default_provider":"a","providers":{"a":{"client_class":"OpenAIClient","default_model":"m","models":{"m":{}},
          "client":{"base_url":"https://x/v1/","base_url_env":"A_BASE","api_key_env":"A_KEY"}}}})",
      "g.json", [](const char* n) {
        return std::string(n) == "A_KEY" ? std::string("sk-1") : std::string();
      });
  CHECK(g.providers[0].api_key == "sk-1");
  CHECK(g.providers[0].base_url == "https://x/v1");
}

TEST_CASE("a config directory overrides file by file - and flags override the files") {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("askd-config-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "askd.json") << R"({"server":{"port":9999},"data_dir":"/tmp/x"})";
  load_options o;
  o.path = dir.string();
  o.getenv = &no_env;
  auto c = load_config(o);
  CHECK(c.server.port == 9999);
  CHECK(c.data_dir == "/tmp/x");
  CHECK(c.generator.source == "(embedded conf/generator.json)");
  o.port = 1234;
  o.data_dir = "/srv/askd";
  c = load_config(o);
  CHECK(c.server.port == 1234);
  CHECK(c.data_dir == "/srv/askd");
  std::ofstream(dir / "generator.json") << R"({"default_provider":"nope","providers":{}})";
  try {
    load_config(o);
    FAIL("expected a config_error");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find((dir / "generator.json").string()) == 0);
  }
  o.path = (dir / "missing.json").string();
  CHECK_THROWS_AS(load_config(o), config_error);
  fs::remove_all(dir);
}

TEST_CASE("a fallback chain in generator.json names known providers") {
  CHECK(
      generator_error(
          R"({"default_provider":"a","fallback":["b"],"providers":{"a":{"client_class":"OpenAIClient","default_model":"m","models":{"m":{}}}}})")
          .find("conf/generator.json: fallback[0]") == 0);
}

TEST_CASE("limits read per provider on top of the default - and name what is wrong") {
  config c;
  parse_server_config(R"({"limits":{"client_rate":2.5,"request_timeout_ms":5000,
      "providers":{"openai":{"max_concurrent":8},"default":{"max_concurrent":4,"max_queued":2}}}})",
                      "conf/askd.json", c);
  CHECK(c.limits.client_rate == 2.5);
  CHECK(c.limits.request_timeout_ms == 5000);
  CHECK(c.limits.for_provider("openai").max_concurrent == 8);
  CHECK(c.limits.for_provider("openai").max_queued == 2);  // from the default, wherever written
  CHECK(c.limits.for_provider("local").max_concurrent == 4);
  CHECK(server_error(R"({"limits":{"client_rate":-1}})") ==
        "conf/askd.json: limits.client_rate: expected a number from 0 to 1e+06, got -1");
  CHECK(server_error(R"({"limits":{"providers":{"openai":{"max_concurent":1}}}})")
            .find("limits.providers.openai.max_concurent") != std::string::npos);
  CHECK(server_error(R"({"upstream":{"backoff_jitter":2}})").find("upstream.backoff_jitter") !=
        std::string::npos);
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("askd-limits-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "askd.json") << R"({"limits":{"providers":{"gemini":{"max_concurrent":1}}}})";
  load_options o;
  o.path = dir.string();
  o.getenv = &no_env;
  try {
    load_config(o);
    FAIL("expected a config_error");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find("limits.providers.gemini") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("cors origins and trusted proxies are checked at start") {
  CHECK(server_error(R"({"server":{"cors_origins":["example.com"]}})")
            .find("server.cors_origins[0]: expected \"*\" or an origin") != std::string::npos);
  CHECK(server_error(R"({"server":{"cors_origins":["https://a.example/path"]}})")
            .find("server.cors_origins[0]") != std::string::npos);
  CHECK(server_error(R"({"server":{"trusted_proxies":["10.0.0.0/33"]}})")
            .find("server.trusted_proxies[0]: expected an IP address or a network") !=
        std::string::npos);
  config c;
  parse_server_config(
      R"({"server":{"cors_origins":["http://localhost:3000","*"],"trusted_proxies":["10.0.0.0/8","::1"],"body_budget_bytes":4096},"repos":{"disk_mb":5}})",
      "conf/askd.json", c);
  CHECK(c.server.cors_origins.size() == 2);
  CHECK(c.server.trusted_proxies.size() == 2);
  CHECK(c.server.body_budget_bytes == 4096);
  CHECK(c.repos.disk_mb == 5);
}

TEST_CASE("upstream.cafile is checked at start: a readable file with a PEM certificate") {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("askd-cafile-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  static std::string home;  // what the test's HOME is ("" for none)
  auto load_with = [&](const std::string& cafile) {
    std::ofstream(dir / "askd.json") << R"({"upstream":{"cafile":")" + cafile + R"("}})";
    load_options o;
    o.path = dir.string();
    o.getenv = [](const char* name) { return std::string(name) == "HOME" ? home : std::string(); };
    return load_config(o);
  };
  auto error_of = [&](const std::string& cafile) {
    try {
      load_with(cafile);
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto missing = (dir / "missing.pem").string();
  CHECK(error_of(missing).find("upstream.cafile: " + missing + " is not a file") !=
        std::string::npos);
  CHECK(error_of(dir.string()).find("is not a file") != std::string::npos);
  home = "/nonexistent-home";
  CHECK(error_of("~/ca.pem").find("/nonexistent-home/ca.pem is not a file") != std::string::npos);
  home = "";  // not /tmp/ca.pem, which anyone may write
  CHECK(error_of("~/ca.pem").find("starts with ~ but HOME is not set") != std::string::npos);
  CHECK(error_of("~root/ca.pem").find("~user paths are not read") != std::string::npos);
  std::ofstream(dir / "key.pem")
      << "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
  CHECK(error_of((dir / "key.pem").string()).find("has no PEM certificate") != std::string::npos);
  std::ofstream(dir / "ca.pem") << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  auto ca = (dir / "ca.pem").string();
  CHECK(load_with(ca).upstream.cafile == ca);
  // A relative path is made absolute at the start, from the working directory.
  auto relative = fs::relative(dir / "ca.pem").string();
  REQUIRE(relative.front() != '/');
  auto loaded = load_with(relative).upstream.cafile;
  CHECK(loaded.front() == '/');
  CHECK(fs::equivalent(loaded, ca));
  fs::remove_all(dir);
}
