// The v1 face end to end (issue 5): typed SSE events, streams that outlive their
// connections (resume at every drop point, and at random points across 200 streams),
// linger, several watchers, cancel, background streams, the askd.v1 WebSocket, API keys.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "core/json.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;
using namespace std::chrono_literals;

namespace {



// The body of a chunked HTTP response as far as it has arrived (headers skipped).
std::string dechunk(const std::string& raw) {
  auto at = raw.find("\r\n\r\n");
  if (at == std::string::npos) return {};
  at += 4;
  std::string out;
  while (at < raw.size()) {
    auto eol = raw.find("\r\n", at);
    if (eol == std::string::npos) break;
    auto size = std::stoul(raw.substr(at, eol - at), nullptr, 16);
    if (size == 0 || eol + 2 + size > raw.size()) {
      out += raw.substr(eol + 2, std::min(size, raw.size() - eol - 2));
      break;
    }
    out += raw.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return out;
}

std::string get_bytes(const std::string& target, std::uint64_t last_event_id) {
  return "GET " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: " + std::to_string(last_event_id) +
         "\r\n\r\n";
}

// Follows one v1 answer, dropping the connection after `next_drop()` more events each
// time and resuming with Last-Event-ID, until done or error. Returns every event seen.
template <class F>
std::vector<sse_event> follow_with_drops(std::uint16_t port, const std::string& body, F next_drop) {
  std::vector<sse_event> seen;
  std::string stream_id;
  std::uint64_t last = 0;
  for (int connection = 0; connection < 1000; ++connection) {
    raw_connection c(port);
    c.send(stream_id.empty() ? post_bytes("/v1/chat/stream", body)
                             : get_bytes("/v1/streams/" + stream_id, last));
    // Wait for event last+n to begin: everything before it is complete.
    auto until = last + std::max<std::uint64_t>(next_drop(), stream_id.empty() ? 2 : 1);
    auto needle = "id: " + std::to_string(until) + "\n";
    std::string raw;
    for (int waited = 0; waited < 400; ++waited) {  // up to 20 s; the end also stops it
      raw = c.read_until(needle, 50ms);
      if (raw.find(needle) != std::string::npos || raw.find("event: done\n") != std::string::npos ||
          raw.find("event: error\n") != std::string::npos)
        break;
    }
    auto events = parse_sse(dechunk(raw));
    for (auto& e : events) {
      if (std::stoull(e.id) <= last) continue;  // never happens: checked below
      last = std::stoull(e.id);
      if (e.event == "meta") stream_id = json_field(e.data, "stream_id");
      seen.push_back(e);
      if (e.event == "done" || e.event == "error") return seen;
    }
    REQUIRE(!stream_id.empty());
  }
  FAIL("the answer never ended");
  return seen;
}

const std::string answer = "one two three four five six seven eight nine ten";
std::string paced(const std::string& text = answer) {
  return R"({"text":")" + text + R"(","chunk":4,"gap_ms":5})";
}

void check_sequence(const std::vector<sse_event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].id == std::to_string(i + 1));
}

}  // namespace

TEST_CASE("v1 SSE sends typed events with ids - meta first - done last") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/v1/chat/stream", chat_body("q", paced()));
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "text/event-stream; charset=utf-8");
  CHECK(r.body.rfind("retry: 1000\n\n", 0) == 0);
  auto events = parse_sse(r.body);
  REQUIRE(events.size() >= 3);
  check_sequence(events);
  CHECK(events.front().event == "meta");
  CHECK(json_field(events.front().data, "stream_id").size() == 32);
  CHECK(json_field(events.front().data, "provider") == "openai");
  CHECK(events.back().event == "done");
  CHECK(events.back().data.find("\"finish_reason\":\"stop\"") != std::string::npos);
  CHECK(sse_text(events) == answer);
  // A refusal before the stream is a JSON status, not an event.
  auto bad = http_call(env.port, "POST", "/v1/chat/stream", "{}");
  CHECK(bad.status == 400);
  CHECK(bad.header("content-type") == "application/json");
}

TEST_CASE("a client dropping at every event and resuming reads the answer exactly") {
  e2e_env env;
  for (std::uint64_t drop = 2; drop <= 14; ++drop) {
    bool first = true;
    auto events = follow_with_drops(env.port, chat_body("q", paced()), [&] {
      auto n = first ? drop : 100;
      first = false;
      return n;
    });
    INFO("dropped before event " << drop);
    check_sequence(events);
    CHECK(sse_text(events) == answer);
    CHECK(events.back().event == "done");
  }
  // And dropping after every single event of one answer.
  auto events = follow_with_drops(env.port, chat_body("q", paced()), [] { return 1; });
  check_sequence(events);
  CHECK(sse_text(events) == answer);
}

TEST_CASE("200 concurrent streams dropped at random points read their answers exactly") {
  e2e_env env;
  constexpr int n = 200;
  std::atomic<int> exact{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i)
    clients.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      auto text = "stream " + std::to_string(i) + ": " + answer;
      auto events = follow_with_drops(env.port, chat_body("q", paced(text)), [&] {
        return std::uniform_int_distribution<int>(1, 6)(rng);
      });
      if (sse_text(events) == text && events.back().event == "done") ++exact;
    });
  for (auto& t : clients) t.join();
  CHECK(exact == n);
  CHECK(env.mock->stats().requests == n);  // each answer generated once
}

TEST_CASE("a finished stream can be replayed within its linger - then it is 404") {
  e2e_env env([](askd::core::config& c) { c.streams.linger_s = 2; });
  auto r = http_call(env.port, "POST", "/v1/chat/stream", chat_body("q", paced()));
  auto id = json_field(parse_sse(r.body).front().data, "stream_id");
  auto again = http_call(env.port, "GET", "/v1/streams/" + id + "?after=2");
  CHECK(again.status == 200);
  auto events = parse_sse(again.body);
  REQUIRE(!events.empty());
  CHECK(events.front().id == "3");
  CHECK(events.back().event == "done");
  // An event that never happened: refused with a status (an EventSource stops there).
  auto ahead = http_call(env.port, "GET", "/v1/streams/" + id + "?after=999");
  CHECK(ahead.status == 400);
  CHECK(ahead.body.find("has not happened yet") != std::string::npos);
  // Having seen the end, an EventSource reconnecting is told to stop.
  auto total = parse_sse(r.body).size();
  auto seen_all = http_call(env.port, "GET", "/v1/streams/" + id, {},
                            {{"Last-Event-ID", std::to_string(total)}});
  CHECK(seen_all.status == 204);
  CHECK(eventually([&] { return http_call(env.port, "GET", "/v1/streams/" + id).status == 404; },
                   5000ms));
  CHECK(http_call(env.port, "GET", "/v1/streams/nope").status == 404);
  CHECK(http_call(env.port, "GET", "/v1/streams/" + id + "?after=x").status == 400);
}

TEST_CASE("a background stream runs without clients - two watchers each get every event") {
  e2e_env env;
  auto started = http_call(env.port, "POST", "/v1/streams", chat_body("q", paced()));
  REQUIRE(started.status == 201);
  auto id = json_field(started.body, "stream_id");
  CHECK(started.header("location") == "/v1/streams/" + id);
  std::vector<sse_event> a, b;
  std::thread ta([&] { a = parse_sse(http_call(env.port, "GET", "/v1/streams/" + id).body); });
  std::thread tb([&] { b = parse_sse(http_call(env.port, "GET", "/v1/streams/" + id).body); });
  ta.join();
  tb.join();
  for (const auto* events : {&a, &b}) {
    check_sequence(*events);
    CHECK(sse_text(*events) == answer);
    CHECK(events->back().event == "done");
  }
}

TEST_CASE("a watcher that stops reading is cut off without holding back the other") {
  e2e_env env([](askd::core::config& c) {
    c.server.write_queue_bytes = 256 * 1024;
    c.streams.replay_bytes = 256 * 1024;  // what an attach may hold unsent: about 640 KB
  });
  // About 6 MB in about 2 s: more than a stalled client's socket buffers and its write
  // queue, and slow enough for a reader on a busy machine.
  auto started = http_call(env.port, "POST", "/v1/streams",
                           chat_body("q", R"({"words":1000000,"chunk":16384,"gap_ms":5})"));
  auto id = json_field(started.body, "stream_id");
  raw_connection stalled(env.port, 4096);
  stalled.send(get_bytes("/v1/streams/" + id, 0));
  auto reader = http_call(env.port, "GET", "/v1/streams/" + id, {}, {}, 60s);
  auto events = parse_sse(reader.body);
  REQUIRE(!events.empty());
  CHECK(events.back().event == "done");
  CHECK(sse_text(events).size() > 4'000'000);
  // The stalled one was cut off: reading it now ends well before the whole answer.
  auto got = stalled.read_all(10s);
  CHECK(got.size() < 4'000'000);
}

TEST_CASE("DELETE cancels a stream - its upstream call stops and watchers see done cancelled") {
  e2e_env env;
  auto started = http_call(env.port, "POST", "/v1/streams",
                           chat_body("q", R"({"words":1000,"chunk":4,"gap_ms":20})"));
  auto id = json_field(started.body, "stream_id");
  REQUIRE(eventually([&] { return env.mock->stats().active == 1; }));
  std::vector<sse_event> watched;
  std::thread watcher(
      [&] { watched = parse_sse(http_call(env.port, "GET", "/v1/streams/" + id).body); });
  auto t0 = std::chrono::steady_clock::now();
  CHECK(http_call(env.port, "DELETE", "/v1/streams/" + id).status == 204);
  CHECK(eventually([&] { return env.mock->stats().active == 0; }));
  INFO("upstream gone after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - t0)
                                     .count()
                              << " ms");
  watcher.join();
  REQUIRE(!watched.empty());
  CHECK(watched.back().event == "done");
  CHECK(watched.back().data.find("\"finish_reason\":\"cancelled\"") != std::string::npos);
  CHECK(http_call(env.port, "DELETE", "/v1/streams/nope").status == 404);
  CHECK(env.mock->stats().disconnects == 1);
}

TEST_CASE("askd.v1 WebSocket carries concurrent chats - resume - cancel - and bad frames") {
  e2e_env env;
  std::map<std::string, std::string> text;  // by client id
  std::map<std::string, std::string> stream_of;
  int ended = 0;
  auto chat = [](const std::string& id, const std::string& mock) {
    return R"({"type":"chat","id":")" + id + R"(","request":)" + chat_body("q", mock) + "}";
  };
  auto r = ws_converse(env.port, "/ws/chat", "askd.v1", {},
                       {chat("a", paced("first answer")), chat("b", paced("second answer")),
                        R"({"type":"nonsense"})"},
                       [&](const std::string& frame) {
                         rapidjson::Document d;
                         askd::core::json::parse(frame, d);
                         askd::core::json::object_reader f(d, "");
                         auto type = f.string_or("type", "");
                         auto id = f.string_or("id", "");
                         if (type == "meta") stream_of[id] = f.string_or("stream_id", "");
                         if (type == "delta")
                           text[id] += json_field(askd::core::json::write(*f.object("data")), "text");
                         if (type == "done") ++ended;
                         return ws_step{{}, ended == 2};
                       });
  REQUIRE(r.accepted);
  CHECK(text["a"] == "first answer");
  CHECK(text["b"] == "second answer");
  CHECK(stream_of["a"] != stream_of["b"]);
  bool bad_frame_answered = false;
  for (const auto& f : r.frames)
    if (f.find(R"("type":"error")") != std::string::npos &&
        f.find("chat, resume or cancel") != std::string::npos)
      bad_frame_answered = true;
  CHECK(bad_frame_answered);

  // Resume the first answer from event 2 on a new socket, then cancel a long one.
  std::string resumed;
  ws_converse(env.port, "/ws/chat", "askd.v1", {},
              {R"({"type":"resume","stream_id":")" + stream_of["a"] + R"(","after":2})"},
              [&](const std::string& frame) {
                resumed += frame;
                return ws_step{{}, frame.find(R"("type":"done")") != std::string::npos};
              });
  CHECK(resumed.find(R"("seq":3)") != std::string::npos);
  CHECK(resumed.find(R"("seq":2,)") == std::string::npos);

  std::string cancelled;
  ws_converse(env.port, "/ws/chat", "askd.v1", {}, {chat("c", R"({"words":1000,"gap_ms":20})")},
              [&](const std::string& frame) {
                ws_step step;
                if (frame.find(R"("type":"meta")") != std::string::npos) {
                  rapidjson::Document d;
                  askd::core::json::parse(frame, d);
                  auto sid = askd::core::json::object_reader(d, "").string_or("stream_id", "");
                  step.send.push_back(R"({"type":"cancel","stream_id":")" + sid + "\"}");
                }
                if (frame.find(R"("type":"done")") != std::string::npos) {
                  cancelled = frame;
                  step.stop = true;
                }
                return step;
              });
  CHECK(cancelled.find("\"finish_reason\":\"cancelled\"") != std::string::npos);
  CHECK(env.settles());
}

TEST_CASE("with API keys every endpoint but health needs one - and streams stay their owner's") {
  e2e_env env([](askd::core::config& c) {
    c.auth.api_keys = {"key-aaaaaaaaaaaaaaaa", "key-bbbbbbbbbbbbbbbb"};
  });
  const std::pair<std::string, std::string> a{"Authorization", "Bearer key-aaaaaaaaaaaaaaaa"};
  const std::pair<std::string, std::string> b{"Authorization", "Bearer key-bbbbbbbbbbbbbbbb"};
  CHECK(http_call(env.port, "GET", "/health").status == 200);
  auto no_key = http_call(env.port, "POST", "/chat/completions/stream", chat_body("q"));
  CHECK(no_key.status == 401);
  CHECK(no_key.header("www-authenticate") == "Bearer");
  CHECK(http_call(env.port, "GET", "/models/config", {}, {{"Authorization", "Bearer wrong"}})
            .status == 401);
  CHECK(ws_call(env.port, "/ws/chat", chat_body("q")).refused_status == 401);
  auto started = http_call(env.port, "POST", "/v1/streams", chat_body("q", paced()), {a});
  REQUIRE(started.status == 201);
  auto id = json_field(started.body, "stream_id");
  CHECK(http_call(env.port, "GET", "/v1/streams/" + id, {}, {b}).status == 404);
  CHECK(http_call(env.port, "DELETE", "/v1/streams/" + id, {}, {b}).status == 404);
  auto mine = http_call(env.port, "GET", "/v1/streams/" + id, {}, {a});
  CHECK(mine.status == 200);
  CHECK(sse_text(parse_sse(mine.body)) == answer);
}

TEST_CASE("v1 reports retrieval progress and the sources of the answer before its text") {
  e2e_env env;
  auto r = http_call(env.port, "POST", "/v1/chat/stream", local_body("where is the retry loop?"));
  auto events = parse_sse(r.body);
  std::vector<std::string> order;
  for (const auto& e : events)
    if (order.empty() || order.back() != e.event) order.push_back(e.event);
  CHECK(order == std::vector<std::string>{"meta", "progress", "sources", "delta", "done"});
  std::string sources;
  for (const auto& e : events)
    if (e.event == "sources") sources = e.data;
  CHECK(sources.find("\"path\":\"") != std::string::npos);
  CHECK(sources.find("\"start_line\":") != std::string::npos);
  CHECK(sources.find("\"score\":") != std::string::npos);
  // The repository was indexed for this request: the build reported its files.
  bool indexed = false;
  for (const auto& e : events)
    if (e.event == "progress" && e.data.find("\"phase\":\"index\"") != std::string::npos &&
        json_field(e.data, "phase") == "index")
      indexed = true;
  CHECK(indexed);
}

TEST_CASE("a quiet v1 stream sends ping comments - which SSE clients ignore") {
  e2e_env env([](askd::core::config& c) { c.streams.ping_s = 1; });
  auto r = http_call(env.port, "POST", "/v1/chat/stream",
                     chat_body("q", R"({"text":"after a pause","first_ms":2500})"));
  auto ping = r.body.find(": ping\n\n");
  CHECK(ping != std::string::npos);
  CHECK(ping < r.body.find("event: delta"));
  CHECK(sse_text(parse_sse(r.body)) == "after a pause");
}

TEST_CASE("askd.v1 compresses frames when the client offers permessage-deflate") {
  e2e_env env;
  const std::string long_answer(20000, 'z');  // compresses well
  std::string text;
  auto r = ws_converse(
      env.port, "/ws/chat", "askd.v1", {},
      {R"({"type":"chat","id":"z","request":)" +
       chat_body("q", R"({"text":")" + long_answer + R"(","chunk":5000})") + "}"},
      [&](const std::string& frame) {
        rapidjson::Document d;
        askd::core::json::parse(frame, d);
        askd::core::json::object_reader f(d, "");
        if (f.string_or("type", "") == "delta")
          text += json_field(askd::core::json::write(*f.object("data")), "text");
        return ws_step{{}, f.string_or("type", "") == "done"};
      },
      30s, true);
  REQUIRE(r.accepted);
  CHECK(r.extensions.find("permessage-deflate") != std::string::npos);
  CHECK(text == long_answer);
  // A compat socket is not compressed, offered or not.
  auto compat = ws_converse(
      env.port, "/ws/chat", "", {}, {chat_body("q")}, [](const std::string&) { return ws_step{}; },
      30s, true);
  CHECK(compat.extensions.empty());
}

TEST_CASE("a WebSocket resume whose replay is more than the socket may queue arrives whole at its pace") {
  e2e_env env([](askd::core::config& c) {
    c.server.write_queue_bytes = 64 * 1024;
    c.streams.replay_bytes = 4 << 20;
  });
  // About 600 KB in 4 KB deltas; read whole over SSE first, so all of it is kept when
  // the socket resumes it.
  auto body = chat_body("q", R"({"words":100000,"chunk":4096})");
  auto started = http_call(env.port, "POST", "/v1/streams", body);
  auto id = json_field(started.body, "stream_id");
  auto events = parse_sse(http_call(env.port, "GET", "/v1/streams/" + id, {}, {}, 30s).body);
  REQUIRE(!events.empty());
  CHECK(events.back().event == "done");
  CHECK(sse_text(events) == *askmock::scripted_answer(body));
  // The replay is ten times what the socket may queue: it is paced by the socket's
  // drain (read from the stream's kept events), not queued whole and cut off.
  bool saw_done = false;
  std::string text;
  auto r = ws_converse(
      env.port, "/ws/chat", "askd.v1", {},
      {R"({"type":"resume","stream_id":")" + id + R"(","after":0})"},
      [&](const std::string& frame) {
        rapidjson::Document d;
        askd::core::json::parse(frame, d);
        if (std::string(d["type"].GetString()) == "delta") text += d["data"]["text"].GetString();
        saw_done = saw_done || frame.find(R"("type":"done")") != std::string::npos;
        return ws_step{{}, saw_done};
      },
      30s);
  CHECK(r.accepted);
  CHECK(saw_done);
  CHECK(text == *askmock::scripted_answer(body));
  CHECK(http_call(env.port, "GET", "/health").status == 200);
  CHECK(env.settles());
}
