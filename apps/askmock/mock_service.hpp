// apps/askmock/mock_service.hpp — a mock LLM upstream that speaks the providers' real
// wire formats over real sockets (formats.hpp: OpenAI and Azure OpenAI, Gemini,
// Anthropic, Ollama), with scripted answers and injected faults. askd's end-to-end tests
// and benchmarks point a provider's base_url at it.
//
// Directives, as JSON, from the `X-Mock` request header or from `#mock{...}` anywhere in
// the last user message (the header wins field by field):
//   text        the answer (default: `words` deterministic words)
//   words       length of the default answer (default 24)
//   deltas      N: the default answer of N words, one word per delta (overrides chunk)
//   chunk       bytes of answer per delta, cut at UTF-8 boundaries (default 6)
//   first_ms    delay before the first answer delta; gap_ms between deltas
//   trickle_us  write the stream one byte at a time, this far apart (splits every token)
//   fault       "status" (answer `status` with the provider's error body, `retry_after` s),
//               "cut" (drop the connection after `after` deltas), "stall" (go silent after
//               `after` deltas), "malformed" (garbage after `after` deltas),
//               "error_event" (an error object inside the 200 stream after `after` deltas),
//               "nested" (an event whose JSON nests 150,000 levels deep, after `after` deltas)
//   fail_first  apply `fault` only to the first N requests carrying the same `key`
//   echo        true: the answer is the last user message as received (prompt checks)
//   research    ["lead", ...]: answer a deep research round as askd's instructions ask
//               (research_answer below); round N ends "Next: <research[N-1]>", past the
//               list "Next: nothing"
//   heading     true: write a research round's heading even when askd says it wrote it
//               (as a model ignoring that would)
//   fault_round N: apply `fault` only to requests for research round N
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "apps/askmock/embeddings.hpp"
#include "apps/askmock/formats.hpp"
#include "net/http_server.hpp"

namespace askmock {

struct directive {
  std::string text;
  bool has_text = false;
  int words = 24;
  int deltas = 0;
  std::size_t chunk = 6;
  int first_ms = 0;
  int gap_ms = 0;
  int trickle_us = 0;
  std::string fault;
  int status = 500;
  int after = 0;
  int retry_after = -1;
  int fail_first = 0;
  std::string key;
  bool echo = false;
  int overlap = 0;  // a continuation first repeats this many bytes of the partial answer
  bool has_research = false;
  std::vector<std::string> research;  // each round's "Next:"
  int fault_round = 0;
  bool heading = false;
};

// A deep research round's answer as a model following askd's round instructions writes
// it, recognisable in tests: the round's heading (unless askd says it wrote it), "Round N
// (kind) of the research into: <topic>.", the files its context showed ("Read: ..."), and
// "Next: ..." from `leads` (plan and updates) or "Concluded after N rounds." (the
// conclusion). Read from the system prompt; nullopt when the request is no research round.
std::optional<std::string> research_answer(const std::vector<chat_turn>& turns,
                                           const std::vector<std::string>& leads,
                                           bool always_heading = false);
// The round a request asks for (from its system prompt), 0 when none.
int research_round_of(const std::vector<chat_turn>& turns);

// The default answer for `words` words: the same text every time.
std::string default_text(int words);

// The answer's deltas, as the mock will send them (each at most `chunk` bytes, never
// splitting a UTF-8 character).
std::vector<std::string> split_deltas(const std::string& text, std::size_t chunk);

// The answer askmock streams for a chat request (its JSON body, any shape with
// "messages") whose messages carry `#mock{...}`, chosen as askmock itself chooses, without
// faults: for clients that check what they received (askload --verify). nullopt without
// a directive or for `echo`.
std::optional<std::string> scripted_answer(std::string_view request_body);

struct mock_options {
  std::string require_key;  // when set, requests without the provider's key are refused
  std::size_t embed_max_input_bytes = 32768;  // a longer embedding input is refused (400)
};

class mock_service : public askd::net::service, public std::enable_shared_from_this<mock_service> {
 public:
  explicit mock_service(mock_options options = {});

  void handle(askd::net::request req, std::shared_ptr<askd::net::response> res) override;
  askd::net::upgrade_decision upgrade(const askd::net::request& req) override;

  struct counters {
    std::atomic<std::int64_t> requests{0};       // chat requests received
    std::atomic<std::int64_t> active{0};         // streams being sent now
    std::atomic<std::int64_t> peak_active{0};    // the most streams sent at once
    std::atomic<std::int64_t> completed{0};      // streams sent to their end
    std::atomic<std::int64_t> faults{0};         // requests answered with a fault
    std::atomic<std::int64_t> disconnects{0};    // streams the client left before their end
    std::atomic<std::int64_t> continuations{0};  // requests continuing a partial answer
  };
  const counters& stats() const { return stats_; }
  embed_stats embeddings() const;
  std::string stats_json() const;
  // The last chat request's body and its Authorization header, as received.
  std::string last_body() const;
  std::string last_authorization() const;
  // The last chat request's target (path and query) and one of its headers (lower-case).
  std::string last_target() const;
  std::string last_header(std::string_view name) const;

 private:
  void chat(askd::net::request& req, const std::shared_ptr<askd::net::response>& res,
            const wire_format& format);
  bool should_fault(const directive& d);

  mock_options options_;
  counters stats_;
  mutable std::mutex mu_;
  std::map<std::string, int> fault_counts_;
  std::string last_body_;
  std::string last_authorization_;
  std::string last_target_;
  embed_stats embed_stats_;
  askd::net::header_list last_headers_;
};

}  // namespace askmock
