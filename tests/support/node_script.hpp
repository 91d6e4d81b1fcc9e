// tests/support/node_script.hpp — a Node.js script run from a test (the browser tests,
// OpenAI's SDK) through run_command: whether node is there, and the script's answer.
#pragma once

#include <string>

#include "tests/support/test_client.hpp"

namespace askd::test {

inline bool have_node() { return run_command("command -v node").code == 0; }

// A script's answer: the last line of its output.
inline std::string last_line(std::string out) {
  while (!out.empty() && out.back() == '\n') out.pop_back();
  auto nl = out.rfind('\n');
  return out.substr(nl == std::string::npos ? 0 : nl + 1);
}

}  // namespace askd::test
