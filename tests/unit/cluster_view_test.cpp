// The rules every node of a cluster applies to the same membership: rendezvous owners,
// shares of a limit, stream ids that name their node, and the cluster's configuration.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "core/cluster_view.hpp"
#include "core/config.hpp"
#include "core/ids.hpp"
#include "core/rate_limit.hpp"
#include "core/slot_table.hpp"

using namespace askd::core;

namespace {
std::vector<weighted_node> nodes(std::initializer_list<const char*> names) {
  std::vector<weighted_node> out;
  for (const auto* n : names) out.emplace_back(n, 1.0);
  return out;
}
}  // namespace

TEST_CASE("every node names the same owner for a key whatever the order of the members") {
  auto abc = nodes({"a", "b", "c"});
  auto cba = nodes({"c", "b", "a"});
  for (int i = 0; i < 200; ++i) {
    auto key = "local:/repo/" + std::to_string(i);
    CHECK(rendezvous_owner(key, abc) == rendezvous_owner(key, cba));
    CHECK(rendezvous_order(key, abc).front() == rendezvous_owner(key, abc));
  }
  CHECK(rendezvous_owner("k", {}) == "");
}

TEST_CASE("a node leaving moves only its own keys - and keys spread over the nodes") {
  auto abc = nodes({"a", "b", "c"});
  auto ab = nodes({"a", "b"});
  std::map<std::string, int> owned;
  for (int i = 0; i < 3000; ++i) {
    auto key = "remote:https://github.com/o/r" + std::to_string(i);
    auto before = rendezvous_owner(key, abc);
    owned[before]++;
    auto after = rendezvous_owner(key, ab);
    if (before != "c") CHECK(after == before);  // keys of a and b stay where they are
    // c's keys go to whoever was second for them.
    if (before == "c") CHECK(after == rendezvous_order(key, abc)[1]);
  }
  for (const auto& [node, n] : owned) {
    CHECK(n > 800);  // about a third each
    CHECK(n < 1200);
  }
}

TEST_CASE("a heavier node owns more keys") {
  std::vector<weighted_node> live = {{"a", 1.0}, {"b", 3.0}};
  int b = 0;
  for (int i = 0; i < 4000; ++i) b += rendezvous_owner("k" + std::to_string(i), live) == "b";
  CHECK(b > 2700);  // about three quarters
  CHECK(b < 3300);
}

TEST_CASE("the shares of a limit sum to the limit whatever the weights") {
  for (std::int64_t total : {0, 1, 2, 10, 30, 31, 2048}) {
    for (auto live : {nodes({"a"}), nodes({"a", "b"}), nodes({"a", "b", "c"}),
                      std::vector<weighted_node>{{"a", 1}, {"b", 2}, {"c", 0.5}}}) {
      std::int64_t sum = 0;
      for (const auto& [name, w] : live) sum += share_of(total, name, live);
      CHECK(sum == total);
    }
  }
  CHECK(share_of(30, "a", nodes({"a", "b", "c"})) == 10);
  CHECK(share_of(30, "z", nodes({"a", "b", "c"})) == 0);  // not live: nothing
  CHECK(share_of(2, "c", nodes({"a", "b", "c"})) == 0);   // fewer slots than nodes
}

TEST_CASE("the view counts a change of who is live - not a change of load") {
  cluster_view v("a", 1, "127.0.0.1:7001");
  auto g = v.generation();
  cluster_member b;
  b.name = "b";
  b.address = "127.0.0.1:7002";
  b.state = member_state::up;
  v.update(b);
  CHECK(v.generation() != g);
  CHECK(v.live().size() == 2);
  g = v.generation();
  v.set_load("b", node_load{5, 2, 1});
  CHECK(v.generation() == g);
  CHECK(v.members()[1].load.streams == 5);
  b.state = member_state::down;
  v.update(b);
  CHECK(v.generation() != g);
  CHECK(v.owner_of("anything") == "a");
}

TEST_CASE("a stream id names the node that owns it") {
  auto plain = new_stream_id();
  CHECK(plain.size() == 32);
  CHECK(node_of_stream(plain).empty());
  auto named = new_stream_id("n2");
  CHECK(node_of_stream(named) == "n2");
  CHECK(named.size() == 35);
}

TEST_CASE("a limit's slots change with the node's share - holders keep theirs") {
  slot_table<int> t(2, 10);
  CHECK(t.claim(1) == slot_table<int>::claim_result::granted);
  CHECK(t.claim(2) == slot_table<int>::claim_result::granted);
  CHECK(t.claim(3) == slot_table<int>::claim_result::waiting);
  CHECK(t.resize(1).empty());  // 1 and 2 keep their slots
  CHECK(t.release(1).empty());  // still 1 active, the limit is 1
  auto granted = t.resize(3);
  REQUIRE(granted.size() == 1);
  CHECK(granted[0] == 3);
}

TEST_CASE("a node's part of the client rate is the rate times its share") {
  rate_limiter r(10, 20);
  r.set_share(0.5);
  auto now = std::chrono::steady_clock::now();
  int allowed = 0;
  for (int i = 0; i < 30; ++i) allowed += r.take("k", now) == 0;
  CHECK(allowed == 10);  // half the burst
}

TEST_CASE("host:port and node names are checked") {
  CHECK(parse_host_port("127.0.0.1:7001")->second == 7001);
  CHECK(parse_host_port("[::1]:7001")->first == "::1");
  CHECK(!parse_host_port("::1:7001"));
  CHECK(!parse_host_port("host"));
  CHECK(!parse_host_port("host:0"));
  CHECK(!parse_host_port("host:65536"));
  CHECK(!parse_host_port(":80"));
  CHECK(is_node_name("n-1"));
  CHECK(!is_node_name("N1"));
  CHECK(!is_node_name("a.b"));
  CHECK(!is_node_name(std::string(33, 'a')));
}

namespace {
std::string load_error(const std::string& askd_json, load_options o = {}) {
  char dir[] = "/tmp/askd-cluster-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string path = std::string(dir) + "/askd.json";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(askd_json.c_str(), f);
  std::fclose(f);
  o.path = path;
  o.getenv = [](const char*) { return std::string(); };
  std::string what;
  try {
    load_config(o);
  } catch (const config_error& e) {
    what = e.what();
  }
  std::remove(path.c_str());
  rmdir(dir);
  return what;
}
}  // namespace

TEST_CASE("a cluster needs TLS files unless plain TCP is asked for - and good addresses") {
  CHECK(load_error(R"({"cluster":{"listen":"127.0.0.1:7001"}})").find("cluster.certificate: required") !=
        std::string::npos);
  CHECK(load_error(R"({"cluster":{"listen":"127.0.0.1:7001","insecure":true}})").empty());
  CHECK(load_error(R"({"cluster":{"listen":"nowhere","insecure":true}})").find("cluster.listen") !=
        std::string::npos);
  CHECK(load_error(R"({"cluster":{"listen":"h:1","insecure":true,"seeds":["x"]}})")
            .find("cluster.seeds") != std::string::npos);
  CHECK(load_error(R"({"cluster":{"seeds":["h:1"]}})").find("needs cluster.listen") !=
        std::string::npos);
  CHECK(load_error(R"({"cluster":{"listen":"h:1","insecure":true,"node":"Bad.Name"}})")
            .find("cluster.node") != std::string::npos);
  load_options o;
  o.cluster_listen = "127.0.0.1:7001";
  o.cluster_seeds = "127.0.0.1:7002,127.0.0.1:7003";
  CHECK(load_error(R"({"cluster":{"insecure":true}})", o).empty());
}
