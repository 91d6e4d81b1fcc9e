// The answer cache end to end (actors/answer_cache.hpp), against askmock: a repeated
// question replayed with the same events and `done.cached`; what makes a question
// another one (token, language, conversation) or keeps it out (cache: false); identical
// questions at once sharing one upstream call; a follower going on alone when the
// client it followed leaves; the compat and OpenAI faces; /metrics.
#include <catch2/catch.hpp>

#include <thread>

#include "core/json.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;
using namespace std::chrono_literals;

namespace {



// `body` (a JSON object's text) with `fields` (`"k":v` pairs) added at its start.
std::string with(const std::string& body, const std::string& fields) {
  return "{" + fields + "," + body.substr(1);
}

// A counter or gauge of askd's /metrics.
std::int64_t metric(std::uint16_t port, const std::string& name) {
  auto body = http_call(port, "GET", "/metrics").body;
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + name.size() + 2));
}

std::vector<sse_event> ask(const e2e_env& env, const std::string& body) {
  auto r = http_call(env.port, "POST", "/v1/chat/stream", body);
  REQUIRE(r.status == 200);
  return parse_sse(r.body);
}

bool cached(const std::vector<sse_event>& events) {
  return !events.empty() && events.back().event == "done" &&
         events.back().data.find("\"cached\":true") != std::string::npos;
}

const std::string answer = "one two three four five six seven eight nine ten";
const std::string paced = R"({"text":")" + answer + R"(","chunk":4,"gap_ms":5})";

}  // namespace

TEST_CASE("a repeated question is replayed from the answer cache - same events - done says so") {
  e2e_env env;
  auto first = ask(env, chat_body("how are streams relayed?", paced));
  auto second = ask(env, chat_body("how are streams relayed?", paced));
  CHECK(env.mock->stats().requests == 1);
  CHECK(sse_text(first) == answer);
  CHECK(sse_text(second) == answer);
  CHECK_FALSE(cached(first));
  CHECK(cached(second));
  // The same events, delta for delta; only the ids in meta differ.
  REQUIRE(first.size() == second.size());
  for (std::size_t i = 1; i < first.size() - 1; ++i) {
    CHECK(first[i].event == second[i].event);
    CHECK(first[i].data == second[i].data);
  }
  CHECK(json_field(first.front().data, "stream_id") != json_field(second.front().data, "stream_id"));
  CHECK(metric(env.port, "askd_answer_cache_hits_total") == 1);
  CHECK(metric(env.port, "askd_answer_cache_misses_total") == 1);
  CHECK(metric(env.port, "askd_answer_cache_stores_total") == 1);
  CHECK(metric(env.port, "askd_answer_cache_entries") == 1);
  CHECK(metric(env.port, "askd_answer_cache_bytes") > static_cast<std::int64_t>(answer.size()));
  // The compat face replays it too (text only), and the OpenAI face says it was cached.
  auto compat = http_call(env.port, "POST", "/chat/completions/stream",
                          chat_body("how are streams relayed?", paced));
  CHECK(compat.body == answer);
  auto openai = http_call(
      env.port, "POST", "/v1/chat/completions",
      R"({"model":"openai","repo_url":"https://github.com/askd/example","retrieval":{"mode":"none"},)"
      R"("messages":[{"role":"user","content":)" +
          askd::core::json::quote("how are streams relayed? #mock" + paced) + "}]}");
  CHECK(openai.status == 200);
  CHECK(openai.body.find("\"cached\":true") != std::string::npos);
  CHECK(env.mock->stats().requests == 1);
  CHECK(env.settles());
}

TEST_CASE("another token - language or conversation is another question - cache false asks anew") {
  e2e_env env;
  auto base = chat_body("what does the parser do?", paced);
  auto requests = [&] { return env.mock->stats().requests.load(); };
  CHECK_FALSE(cached(ask(env, base)));
  CHECK(cached(ask(env, base)));
  // A private repository's answer is only for the same token.
  CHECK_FALSE(cached(ask(env, with(base, R"("token":"token-one")"))));
  CHECK_FALSE(cached(ask(env, with(base, R"("token":"token-two")"))));
  CHECK(cached(ask(env, with(base, R"("token":"token-one")"))));
  CHECK(requests() == 3);
  CHECK_FALSE(cached(ask(env, with(base, R"("language":"ja")"))));
  auto longer = R"({"repo_url":"https://github.com/askd/example","provider":"openai",)"
                R"("retrieval":{"mode":"none"},"messages":[{"role":"user","content":"hi"},)"
                R"({"role":"assistant","content":"hello"},{"role":"user","content":)" +
                askd::core::json::quote("what does the parser do? #mock" + paced) + "}]}";
  CHECK_FALSE(cached(ask(env, longer)));
  CHECK(requests() == 5);
  // Opting out: its own call, and nothing stored for it.
  auto fresh = chat_body("and the lexer?", paced);
  CHECK_FALSE(cached(ask(env, with(fresh, R"("cache":false)"))));
  CHECK_FALSE(cached(ask(env, fresh)));
  CHECK(cached(ask(env, fresh)));
  CHECK_FALSE(cached(ask(env, with(base, R"("cache":false)"))));
  CHECK(requests() == 8);
  CHECK(env.settles());
}

TEST_CASE("identical questions at once share one upstream call - each gets the whole answer") {
  e2e_env env;
  auto slow = R"({"text":")" + answer + R"(","chunk":4,"gap_ms":40})";
  auto body = chat_body("who calls the curl engine?", slow);
  std::vector<std::vector<sse_event>> got(4);
  std::vector<std::thread> askers;
  askers.emplace_back([&] { got[0] = ask(env, body); });
  REQUIRE(eventually([&] { return env.mock->stats().active == 1; }));
  for (int i = 1; i < 4; ++i) askers.emplace_back([&, i] { got[i] = ask(env, body); });
  for (auto& t : askers) t.join();
  CHECK(env.mock->stats().requests == 1);
  for (const auto& events : got) {
    CHECK(sse_text(events) == answer);
    CHECK(events.back().event == "done");
    CHECK_FALSE(cached(events));
  }
  CHECK(metric(env.port, "askd_answer_cache_shared_total") == 3);
  CHECK(metric(env.port, "askd_answer_cache_misses_total") == 1);
  CHECK(cached(ask(env, body)));
  CHECK(env.settles());
}

TEST_CASE("a follower whose leader's client leaves goes on alone - its text exact") {
  e2e_env env;
  auto slow = R"({"text":")" + answer + R"(","chunk":4,"gap_ms":40})";
  auto body = chat_body("where are retries decided?", slow);
  std::string leader_seen;
  {
    raw_connection leader(env.port);
    leader.send(post_bytes("/chat/completions/stream", body));
    leader_seen = leader.read_until("one ", 5s);
    REQUIRE(leader_seen.find("one ") != std::string::npos);
    std::vector<sse_event> follower;
    std::thread t([&] { follower = ask(env, body); });
    REQUIRE(eventually([&] { return metric(env.port, "askd_answer_cache_shared_total") == 1; }));
    leader.close();
    t.join();
    INFO(follower.back().data);
    CHECK(sse_text(follower) == answer);
    CHECK(follower.back().event == "done");
    CHECK(follower.back().data.find("continued") != std::string::npos);
  }
  CHECK(env.mock->stats().requests == 2);
  CHECK(env.mock->stats().continuations == 1);
  CHECK(env.settles());
}
