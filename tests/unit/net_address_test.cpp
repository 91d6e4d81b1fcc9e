// Addresses, networks, loopback names and origins as the server's policies read them.
#include <catch2/catch.hpp>

#include "core/net_address.hpp"

using namespace askd::core;

TEST_CASE("networks contain the addresses of their prefix - v4 and v6") {
  auto net = parse_network("10.0.0.0/8");
  REQUIRE(net);
  CHECK(contains(*net, *parse_ip("10.200.1.2")));
  CHECK_FALSE(contains(*net, *parse_ip("11.0.0.1")));
  CHECK_FALSE(contains(*net, *parse_ip("::1")));
  auto one = parse_network("192.168.1.7");
  REQUIRE(one);
  CHECK(contains(*one, *parse_ip("192.168.1.7")));
  CHECK_FALSE(contains(*one, *parse_ip("192.168.1.8")));
  auto v6 = parse_network("fd00::/8");
  REQUIRE(v6);
  CHECK(contains(*v6, *parse_ip("fd12:3456::1")));
  CHECK_FALSE(contains(*v6, *parse_ip("fe80::1")));
  CHECK_FALSE(parse_network("10.0.0.0/33"));
  CHECK_FALSE(parse_network("example.com"));
  CHECK_FALSE(parse_network("10.0.0.0/"));
}

TEST_CASE("a loopback-bound server answers only to loopback names") {
  for (const char* ok : {"localhost", "localhost:8001", "LOCALHOST.", "app.localhost:3000",
                         "127.0.0.1", "127.0.0.1:8001", "127.1.2.3", "[::1]:8001", "[::1]"})
    CHECK(is_loopback_host(ok));
  for (const char* bad : {"evil.example", "evil.example:8001", "127.0.0.1.evil.example",
                          "localhost.evil.example", "10.0.0.1", "[::2]", "", "localhostx"})
    CHECK_FALSE(is_loopback_host(bad));
}

TEST_CASE("origins are scheme and authority only - and same-origin means the same authority") {
  CHECK(is_origin("*"));
  CHECK(is_origin("http://localhost:3000"));
  CHECK(is_origin("https://wiki.example.com"));
  CHECK_FALSE(is_origin("wiki.example.com"));
  CHECK_FALSE(is_origin("https://wiki.example.com/"));
  CHECK_FALSE(is_origin("null"));
  CHECK(same_origin("http://127.0.0.1:8001", "127.0.0.1:8001"));
  CHECK(same_origin("http://LOCALHOST:8001", "localhost:8001"));
  CHECK_FALSE(same_origin("http://127.0.0.1:3000", "127.0.0.1:8001"));
  CHECK_FALSE(same_origin("http://evil.example", "127.0.0.1:8001"));
  CHECK(address_of_peer("127.0.0.1:5301") == "127.0.0.1");
  CHECK(address_of_peer("[::1]:5301") == "::1");
}
