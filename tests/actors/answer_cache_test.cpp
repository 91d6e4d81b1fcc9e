// The answer cache without actors (actors/answer_cache.hpp): keys, what is kept and for
// how long, and a flight's followers (text so far, then live, then the leader's end).
#include <catch2/catch.hpp>

#include "actors/answer_cache.hpp"
#include "actors/generation_output.hpp"
#include "tests/support/recording_port.hpp"

using namespace askd;
using namespace askd::actors;
using askd::test::recording_port;

namespace {

core::answer_cache_settings settings(std::uint64_t max_mb = 1, int ttl_s = 60) {
  core::answer_cache_settings s;
  s.max_mb = max_mb;
  s.ttl_s = ttl_s;
  return s;
}

std::vector<core::chat_message> prompt(const std::string& question) {
  return {{"system", "You answer questions about a repository."}, {"user", question}};
}

// A generation's output into a hub with one port.
struct watched_output {
  std::shared_ptr<stream_hub> hub = std::make_shared<stream_hub>();
  std::shared_ptr<recording_port> port = std::make_shared<recording_port>();
  std::shared_ptr<generation_output> out = std::make_shared<generation_output>(hub);
  watched_output() { hub->attach(1, port, 0); }
};

flight_end clean() { return {"stop", {3, 4}, true, {}}; }

// Leads a flight for `key` and finishes it with `deltas` and `end`.
void answer(answer_cache& cache, const std::string& key, const std::vector<std::string>& deltas,
            const flight_end& end = clean()) {
  auto found = cache.find(key);
  REQUIRE(found.lead);
  watched_output leader;
  leader.out->record_to(found.flight);
  leader.out->begin(1);
  for (const auto& d : deltas) leader.out->offer(1, d);
  leader.out->end_attempt();
  found.flight->finish(end);
}

}  // namespace

TEST_CASE("answer keys differ by provider - model - token - and every byte of the prompt") {
  auto base = answer_cache::key_of("openai", "gpt", prompt("how?"), "");
  CHECK(base.size() == 64);
  CHECK(base == answer_cache::key_of("openai", "gpt", prompt("how?"), ""));
  CHECK(base != answer_cache::key_of("google", "gpt", prompt("how?"), ""));
  CHECK(base != answer_cache::key_of("openai", "gpt2", prompt("how?"), ""));
  CHECK(base != answer_cache::key_of("openai", "gpt", prompt("how?"), "secret"));
  CHECK(base != answer_cache::key_of("openai", "gpt", prompt("how? "), ""));
  // Field boundaries count: the same bytes split differently are another question.
  CHECK(answer_cache::key_of("open", "aigpt", prompt("x"), "") !=
        answer_cache::key_of("openai", "gpt", prompt("x"), ""));
  std::vector<core::chat_message> two = {{"user", "a"}, {"user", "b"}};
  std::vector<core::chat_message> one = {{"user", "ab"}};
  CHECK(answer_cache::key_of("p", "m", two, "") != answer_cache::key_of("p", "m", one, ""));
}

TEST_CASE("a clean answer is kept delta by delta - replayed until its time is up") {
  answer_cache cache(settings(1, 60));
  auto key = answer_cache::key_of("openai", "gpt", prompt("q"), "");
  answer(cache, key, {"one ", "two ", "three"});
  CHECK(cache.misses == 1);
  CHECK(cache.stores == 1);
  CHECK(cache.entries() == 1);
  auto hit = cache.find(key);
  REQUIRE(hit.hit);
  CHECK_FALSE(hit.flight);
  CHECK(hit.hit->text == "one two three");
  std::vector<std::string> deltas;
  hit.hit->each_delta([&](std::string_view d) { deltas.emplace_back(d); });
  CHECK(deltas == std::vector<std::string>{"one ", "two ", "three"});
  CHECK(hit.hit->end.finish_reason == "stop");
  CHECK(hit.hit->end.usage.completion_tokens == 4);
  CHECK(cache.hits == 1);
  CHECK(cache.bytes() == static_cast<std::int64_t>(hit.hit->bytes()));
  // Past ttl_s it is gone, and the next asker leads a new flight.
  auto later = answer_cache::clock::now() + std::chrono::seconds(61);
  auto again = cache.find(key, later);
  CHECK_FALSE(again.hit);
  CHECK(again.lead);
  CHECK(cache.expired == 1);
  CHECK(cache.bytes() == 0);
  again.flight->abandon();
}

TEST_CASE("degraded - cut short - empty - or abandoned answers are not kept") {
  answer_cache cache(settings());
  auto key = [](const char* q) { return answer_cache::key_of("openai", "gpt", prompt(q), ""); };
  answer(cache, key("a"), {"text"}, {"stop", {}, false, {"fallback:google"}});
  answer(cache, key("b"), {"text"}, {"cancelled", {}, false, {}});
  answer(cache, key("c"), {}, clean());
  {
    auto found = cache.find(key("d"));
    watched_output leader;
    leader.out->record_to(found.flight);
    leader.out->begin(1);
    leader.out->offer(1, "half");
    found.flight->abandon();
    found.flight->finish(clean());  // too late: abandoned
  }
  CHECK(cache.stores == 0);
  CHECK(cache.entries() == 0);
  for (const char* q : {"a", "b", "c", "d"}) {
    auto found = cache.find(key(q));
    CHECK(found.lead);
    found.flight->abandon();
  }
}

TEST_CASE("past max_mb the least recently used answers go - an answer over an eighth is not kept") {
  answer_cache cache(settings(1));  // 1 MiB: answers up to 128 KiB
  std::string piece(100 * 1024, 'x');
  auto key = [](int i) {
    return answer_cache::key_of("openai", "gpt", prompt("q" + std::to_string(i)), "");
  };
  for (int i = 0; i < 14; ++i) {
    answer(cache, key(i), {piece});
    if (i == 0) continue;
    auto first = cache.find(key(0));  // keeps the first one the most recently used
    REQUIRE(first.hit);
  }
  CHECK(cache.bytes() <= 1 << 20);
  CHECK(cache.evictions > 0);
  CHECK(cache.entries() < 14);
  CHECK(cache.find(key(0)).hit);  // used all along
  auto oldest = cache.find(key(1));
  CHECK_FALSE(oldest.hit);
  oldest.flight->abandon();
  answer(cache, key(99), {std::string(130 * 1024, 'y')});
  auto big = cache.find(key(99));
  CHECK_FALSE(big.hit);
  big.flight->abandon();
}

TEST_CASE("followers get the text so far - then each piece - then the leader's end") {
  answer_cache cache(settings());
  auto key = answer_cache::key_of("openai", "gpt", prompt("q"), "");
  auto lead = cache.find(key);
  REQUIRE(lead.lead);
  watched_output leader;
  leader.out->record_to(lead.flight);
  leader.out->begin(1);
  leader.out->offer(1, "one ");

  auto follow = cache.find(key);
  CHECK_FALSE(follow.lead);
  REQUIRE(follow.flight == lead.flight);
  watched_output a;
  std::optional<flight_end> a_end;
  int a_calls = 0;
  REQUIRE(follow.flight->join(a.out, [&](const std::optional<flight_end>& e) {
    a_end = e;
    ++a_calls;
  }));
  CHECK(a.port->text() == "one ");
  leader.out->offer(1, "two");
  CHECK(a.port->text() == "one two");
  watched_output gone;
  REQUIRE(follow.flight->join(gone.out, [&](const std::optional<flight_end>&) { FAIL("left"); }));
  follow.flight->leave(gone.out.get());
  leader.out->offer(1, " three");
  CHECK(gone.port->text() == "one two");
  leader.out->end_attempt();
  lead.flight->finish(clean());
  CHECK(a_calls == 1);
  REQUIRE(a_end);
  CHECK(a_end->finish_reason == "stop");
  CHECK(a.port->text() == "one two three");
  CHECK(a.out->sent() == "one two three");  // what a continuation would go on from
  // Over: nobody joins it any more; the answer is in the cache.
  watched_output late;
  CHECK_FALSE(lead.flight->join(late.out, [](const std::optional<flight_end>&) {}));
  CHECK(cache.find(key).hit);
}

TEST_CASE("a leader gone without its answer lets its followers go on alone") {
  answer_cache cache(settings());
  auto key = answer_cache::key_of("openai", "gpt", prompt("q"), "");
  auto lead = cache.find(key);
  watched_output leader;
  leader.out->record_to(lead.flight);
  leader.out->begin(1);
  leader.out->offer(1, "partial");
  watched_output f;
  int ends = 0;
  bool answered = true;
  REQUIRE(cache.find(key).flight->join(f.out, [&](const std::optional<flight_end>& e) {
    ++ends;
    answered = e.has_value();
  }));
  lead.flight->abandon();
  lead.flight->abandon();  // once only
  CHECK(ends == 1);
  CHECK_FALSE(answered);
  CHECK(f.out->sent() == "partial");
  leader.out->offer(1, " more");  // the leader's late bytes reach no follower
  CHECK(f.port->text() == "partial");
  // The key is free: the next asker leads.
  auto next = cache.find(key);
  CHECK(next.lead);
  next.flight->abandon();
}

TEST_CASE("an answer longer than a flight keeps is shared with those following - no one else joins") {
  answer_cache cache(settings(1));
  auto key = answer_cache::key_of("openai", "gpt", prompt("q"), "");
  auto lead = cache.find(key);
  watched_output leader;
  leader.out->record_to(lead.flight);
  leader.out->begin(1);
  watched_output early;
  REQUIRE(cache.find(key).flight->join(early.out, [](const std::optional<flight_end>&) {}));
  std::string chunk(64 * 1024, 'z');
  leader.out->offer(1, chunk);
  leader.out->offer(1, chunk);
  leader.out->offer(1, chunk);
  CHECK(early.port->text().size() == 3 * chunk.size());
  watched_output late;
  CHECK_FALSE(cache.find(key).flight->join(late.out, [](const std::optional<flight_end>&) {}));
  lead.flight->finish(clean());
  CHECK(cache.entries() == 0);
}

TEST_CASE("a disabled cache neither answers nor leads") {
  auto s = settings();
  s.enabled = false;
  answer_cache cache(s);
  auto found = cache.find("k");
  CHECK_FALSE(found.hit);
  CHECK_FALSE(found.flight);
  CHECK(cache.misses == 0);
}
