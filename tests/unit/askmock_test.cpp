#include <catch2/catch.hpp>

#include "apps/askmock/mock_service.hpp"

TEST_CASE("askmock splits answers at UTF-8 boundaries - never inside a character") {
  const std::string text = "aé日本語—z";
  for (std::size_t chunk = 1; chunk <= 8; ++chunk) {
    auto parts = askmock::split_deltas(text, chunk);
    std::string joined;
    for (const auto& p : parts) {
      CHECK_FALSE(p.empty());
      CHECK((static_cast<unsigned char>(p[0]) & 0xC0) != 0x80);
      joined += p;
    }
    CHECK(joined == text);
  }
  CHECK(askmock::default_text(3) == askmock::default_text(3));
  CHECK(askmock::default_text(24).size() > 50);
}
