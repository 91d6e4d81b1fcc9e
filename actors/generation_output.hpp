// actors/generation_output.hpp — the text one generation has sent to its stream, shared
// by the call supervisor and the attempt in flight. An attempt offers its text from
// wherever it decodes it (a provider_call's decoder runs on the curl thread); the text
// goes straight to the stream's hub. The supervisor starts and ends attempts here, so
// text from an attempt it has given up on is never taken, and what was sent is exact
// when it decides how to go on. A continuation's first bytes are held back until
// max_overlap_bytes have come, the attempt ends, or no more of it could repeat more of
// the answer's end; what repeats the end of the answer is trimmed. No CAF here.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "actors/stream_hub.hpp"

namespace askd::actors {

class answer_flight;

// A continuation's first bytes held back to find what it repeats.
inline constexpr std::size_t max_overlap_bytes = 256;

// How many bytes at the start of `next` repeat the end of `sent` (at least `min_overlap`
// of them, or all of `sent`; else 0): what a continuation said again and is trimmed.
std::size_t continuation_overlap(std::string_view sent, std::string_view next,
                                 std::size_t min_overlap = 8);

class generation_output {
 public:
  explicit generation_output(std::shared_ptr<stream_hub> hub) : hub_(std::move(hub)) {}

  // Attempt `attempt` says `text`: published (or held, at a continuation's start) when
  // `attempt` is the current one; dropped otherwise. Any thread.
  void offer(int attempt, std::string_view text);

  // A provider call starts (counted on the stream, for its log line).
  void count_attempt() { hub_->count_attempt(); }
  // The supervisor starts attempt `attempt`; when text was sent before, it is a
  // continuation and its start is held back for trimming.
  void begin(int attempt);
  // The supervisor is done with the current attempt: what it held goes out (trimmed),
  // and nothing more of it is taken.
  void end_attempt();
  // The attempt itself has failed (a provider_call's deadline passed): nothing more of
  // its text is taken from now on, though its bytes may still be arriving; what it
  // held stays for end_attempt.
  void retire(int attempt);

  // A research round whose heading askd wrote (actors/research.hpp): an attempt that
  // starts the answer is held until its first line shows, and `heading` there (a model
  // writing it although told not to) is dropped, with the space after it. Any other
  // first line is the model's own (an early "## Final Conclusion" stays, and counts).
  void drop_leading_heading(std::string heading) { heading_ = std::move(heading); }

  // A takeover (actors/replication.hpp): `text` was sent already, by the lost node. The
  // first attempt continues it (trimmed as any continuation) — or, `replay` (a provider
  // that writes its answer again from the start: the local one), the bytes of its answer
  // that repeat `text` are skipped and what follows them goes out.
  void seed(std::string text, bool replay);

  // Every piece of text sent from now on is also recorded in `flight` (the answer cache's
  // single flight this output leads, actors/answer_cache.hpp).
  void record_to(std::shared_ptr<answer_flight> flight);

  // Everything sent so far (what a continuation goes on from), and its size.
  std::string sent() const;
  std::size_t sent_bytes() const;

 private:
  void forward(std::string_view text);  // with mutex_ held
  void release_held();                  // with mutex_ held
  void release_lead(bool final);        // with mutex_ held

  mutable std::mutex mutex_;
  std::shared_ptr<stream_hub> hub_;
  std::shared_ptr<answer_flight> flight_;
  int current_ = 0;       // 0: no attempt is taking text
  bool retired_ = false;  // the current attempt has failed; its text is no longer taken
  std::string sent_;
  std::string held_;
  bool trimming_ = false;
  std::size_t replayed_ = 0;  // bytes of sent_ an answer written again has repeated
  bool replaying_ = false;
  std::string heading_;   // dropped at the start of the answer; "" for none
  bool leading_ = false;  // holding the answer's start in lead_ to find a heading
  std::string lead_;
};

}  // namespace askd::actors
