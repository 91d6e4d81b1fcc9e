// tests/support/e2e_env.hpp — askmock and askd, both in this process on loopback with
// free ports: askd's providers point at askmock, as an operator would configure them,
// and tests/fixtures is an allowed local root.
#pragma once

#include <memory>
#include <string>

#include "apps/askmock/mock_service.hpp"
#include "core/config.hpp"
#include "net/askd_server.hpp"
#include "net/http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace askd::test {

struct e2e_env {
  // `tweak` may change askd's config before it starts.
  explicit e2e_env(void (*tweak)(core::config&) = nullptr);
  ~e2e_env();

  temp_dir data_dir;  // askd's data dir: indexes live here for the test only
  std::shared_ptr<askmock::mock_service> mock;
  std::unique_ptr<net::http_server> mock_server;
  std::uint16_t mock_port = 0;
  std::unique_ptr<net::askd_server> askd;
  std::uint16_t port = 0;

  // Waits until no actor, limiter slot or upstream call of askd and no askmock stream is
  // left; false if something is still alive after the deadline.
  bool settles() const;
};

// A compat chat request body asking `question` of a GitHub repo without retrieval
// (nothing is cloned), for `provider` (askd points every provider at askmock); `mock` (JSON
// object text, may be empty) is appended to the question as askmock's #mock directive.
std::string chat_body(const std::string& question, const std::string& mock = {},
                      const std::string& provider = "openai");

// A compat chat request for the default (local) provider about a local repository
// (default: the fixture repo, which e2e_env allows).
std::string local_body(const std::string& question,
                       const std::string& repo = ASKD_FIXTURES "/minirepo");

}  // namespace askd::test
