// Every provider's stream decoder: any body, whole or cut at two points, gives the same
// text, finish reason and ending (or the same error class), and nothing crashes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "providers/provider.hpp"
#include "tests/fuzz/fuzz_input.hpp"
#include "tests/support/collected_events.hpp"
#include "tests/support/embedded_config.hpp"

namespace {

struct outcome {
  std::string text, finish;
  std::optional<askd::core::error_code> error;
  bool operator==(const outcome&) const = default;
};

template <class Feed>
outcome run(const askd::providers::provider& p, Feed feed) {
  auto d = p.decoder();
  askd::test::collected c;
  outcome o;
  auto err = feed(*d, c);
  if (!err) err = d->finish(c);
  o.text = c.text;
  o.finish = c.finish;
  if (err) o.error = err->code;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto cfg = askd::test::embedded_config();
  static const askd::providers::provider_registry registry(cfg);
  static const char* const ids[] = {"openai", "azure", "google", "anthropic", "ollama", "bedrock"};
  askd::fuzz::input in(data, size);
  auto p = registry.find(ids[in.byte() % std::size(ids)]);
  const auto cuts = in.two_cuts();
  const std::size_t first = cuts.first, second = cuts.second;
  auto body = in.rest;
  auto whole = run(*p, [&](auto& d, auto& c) { return d.feed(body, c); });
  auto split = run(*p, [&](auto& d, auto& c) {
    auto e = d.feed(body.substr(0, first), c);
    if (!e) e = d.feed(body.substr(first, second - first), c);
    if (!e) e = d.feed(body.substr(second), c);
    return e;
  });
  if (!(whole == split)) __builtin_trap();
  return 0;
}
