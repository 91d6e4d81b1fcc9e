// Config parsing: any text for any of the files is a config or a config_error naming the
// file; nothing else escapes.
#include <cstdint>
#include <string>

#include "core/config.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  askd::fuzz::input in(data, size);
  auto which = in.byte() % 5;
  std::string text(in.rest);
  auto no_env = [](const char*) { return std::string(); };
  try {
    switch (which) {
      case 0: {
        askd::core::config c;
        askd::core::parse_server_config(text, "askd.json", c);
        break;
      }
      case 1:
        askd::core::parse_generator_config(text, "generator.json", no_env);
        break;
      case 2:
        askd::core::parse_repo_config(text, "repo.json");
        break;
      case 3:
        askd::core::parse_embedder_config(text, "embedder.json", no_env);
        break;
      default:
        askd::core::parse_language_config(text, "lang.json");
    }
  } catch (const askd::core::config_error& e) {
    if (std::string(e.what()).find(".json") == std::string::npos) __builtin_trap();
  }
  return 0;
}
