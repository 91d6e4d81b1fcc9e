// What another node sends: any bytes deserialised as a cluster message (CAF's binary
// format, as BASP carries it) are a value or an error, and the checks a node runs on a
// peer's introduction and search (hello_problem, remote_search_problem) hold for any
// value, as do a replica's (replica_store: what it accepts is in order and bounded;
// takeover_of reads any log); nothing crashes, allocates without bound or reads out of
// range.
#include <caf/all.hpp>

#include <cstdint>

#include "actors/cluster.hpp"
#include "actors/remote_retrieval.hpp"
#include "actors/replication.hpp"
#include "core/config.hpp"
#include "core/ids.hpp"
#include "tests/fuzz/fuzz_input.hpp"

using namespace askd::actors;

namespace {

template <class T>
bool read(std::string_view bytes, T& x) {
  caf::binary_deserializer source{static_cast<caf::execution_unit*>(nullptr), bytes.data(),
                                  bytes.size()};
  return !source(x);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  askd::fuzz::input in(data, size);
  auto which = in.byte() % 7;
  switch (which) {
    case 0: {
      node_hello h;
      if (read(in.rest, h)) {
        auto why = hello_problem(h, "a");
        // Accepted means every address it names is one a node may dial.
        if (why.empty() && (!askd::core::parse_host_port(h.address) || h.name == "a"))
          __builtin_trap();
      }
      break;
    }
    case 1: {
      remote_search s;
      if (read(in.rest, s) && remote_search_problem(s).empty() &&
          (s.repo_url.empty() || s.repo_url.size() > askd::core::max_repo_url_bytes))
        __builtin_trap();
      break;
    }
    case 2: {
      remote_chunks c;
      if (read(in.rest, c)) (void)from_remote(std::move(c));
      break;
    }
    case 3: {
      std::vector<askd::core::stream_event> events;
      if (read(in.rest, events))
        for (const auto& e : events) (void)e.terminal();
      break;
    }
    case 5: {
      // A stream's copy opened, then a batch appended, as a replica receives them.
      replica_open r;
      if (!read(in.rest, r)) break;
      replica_store store;
      auto now = std::chrono::steady_clock::now();
      if (!store.open(r, "n1", now).empty()) break;
      if (!store.holds(r.stream_id) || store.bytes() > max_replica_stream_bytes)
        __builtin_trap();
      auto more = r.events;  // the same events again: taken from where the copy ends
      std::string why;
      (void)store.append(r.stream_id, "n1", more, now, why);
      auto copies = store.take_owned_by("n1");
      if (copies.size() != 1 || store.bytes() != 0) __builtin_trap();
      std::uint64_t seq = 0;
      for (const auto& e : copies[0].events)
        if (e.seq != ++seq) __builtin_trap();  // what is held is in order
      (void)takeover_of(copies[0].events);
      break;
    }
    case 6: {
      std::vector<askd::core::stream_event> events;
      if (read(in.rest, events)) (void)takeover_of(events);
      break;
    }
    default: {
      remote_attach a;
      if (read(in.rest, a)) (void)askd::core::node_of_stream(a.stream_id);
    }
  }
  return 0;
}
