// SSE framing from bytes in any split: every split point, random splits, all line endings.
#include <catch2/catch.hpp>

#include <random>

#include "providers/sse_parser.hpp"

using askd::providers::sse_event;
using askd::providers::sse_parser;

namespace {
const std::string stream =
    ": a comment\r\n"
    "data: {\"a\":\"naïve 日本語\"}\r\n\r\n"
    "event: update\n"
    "id: 7\n"
    "data: line one\n"
    "data: line two\n\n"
    "data:no-space\r\r"
    "retry: 100\n"
    "data: [DONE]\n\n";

void check_events(const std::vector<sse_event>& ev) {
  REQUIRE(ev.size() == 4);
  CHECK(ev[0].data == "{\"a\":\"naïve 日本語\"}");
  CHECK(ev[0].event.empty());
  CHECK(ev[1].event == "update");
  CHECK(ev[1].id == "7");
  CHECK(ev[1].data == "line one\nline two");
  CHECK(ev[2].data == "no-space");
  CHECK(ev[3].data == "[DONE]");
}
}  // namespace

TEST_CASE("SSE: the whole stream at once") {
  sse_parser p;
  std::vector<sse_event> ev;
  REQUIRE(p.feed(stream, ev));
  check_events(ev);
  CHECK(p.pending() == 0);
}

TEST_CASE("SSE: every split into two parts gives the same events") {
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    sse_parser p;
    std::vector<sse_event> ev;
    INFO("cut at " << cut);
    REQUIRE(p.feed(std::string_view(stream).substr(0, cut), ev));
    REQUIRE(p.feed(std::string_view(stream).substr(cut), ev));
    check_events(ev);
  }
}

TEST_CASE("SSE: byte by byte - and in random splits") {
  {
    sse_parser p;
    std::vector<sse_event> ev;
    for (char c : stream) REQUIRE(p.feed(std::string_view(&c, 1), ev));
    check_events(ev);
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    sse_parser p;
    std::vector<sse_event> ev;
    std::size_t i = 0;
    while (i < stream.size()) {
      std::size_t n = std::uniform_int_distribution<std::size_t>(1, 9)(rng);
      REQUIRE(p.feed(std::string_view(stream).substr(i, n), ev));
      i += n;
    }
    check_events(ev);
  }
}

TEST_CASE("SSE: an event larger than the bound is refused - not buffered") {
  sse_parser p(64);
  std::vector<sse_event> ev;
  CHECK_FALSE(p.feed("data: " + std::string(100, 'x'), ev));
}

TEST_CASE("SSE: a read's buffer may be reused once feed returns - an event cut there is kept") {
  // The curl engine reads every part into the same buffer: what an unfinished event
  // borrowed from one read must be copied before the next overwrites it.
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    sse_parser p;
    std::vector<sse_event> ev;
    std::string buffer;
    INFO("cut at " << cut);
    for (auto part :
         {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      buffer.assign(part);
      REQUIRE(p.feed(buffer, ev));
      buffer.assign(buffer.size(), '#');
    }
    check_events(ev);
  }
}

TEST_CASE("SSE: an event whole inside one read is handed over as views of its bytes") {
  const std::string read = "event: delta\nid: 3\ndata: {\"x\":1}\n\ndata: a\ndata: b\n\n";
  sse_parser p;
  std::vector<std::string> seen;
  bool first_borrowed = false;
  REQUIRE(p.feed(read, [&](const askd::providers::sse_view& e) {
    auto inside = [&](std::string_view v) {
      return v.data() >= read.data() && v.data() + v.size() <= read.data() + read.size();
    };
    if (seen.empty()) first_borrowed = inside(e.data) && inside(e.event) && inside(e.id);
    seen.push_back(std::string(e.event) + "|" + std::string(e.id) + "|" + std::string(e.data));
  }));
  CHECK(first_borrowed);
  CHECK(seen == std::vector<std::string>{"delta|3|{\"x\":1}", "||a\nb"});
}
