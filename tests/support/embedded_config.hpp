// tests/support/embedded_config.hpp — askd's embedded configuration as tests see it: no
// environment (so no keys), plus any local roots the test allows.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"

namespace askd::test {

inline core::config embedded_config(std::vector<std::string> allow_local = {}) {
  core::load_options o;
  o.getenv = [](const char*) { return std::string(); };
  o.allow_local = std::move(allow_local);
  return core::load_config(o);
}

}  // namespace askd::test
