// What another node sends: any bytes deserialised as a cluster message (CAF's binary
// format, as BASP carries it) are a value or an error, and the checks a node runs on a
// peer's introduction and search (hello_problem, remote_search_problem) hold for any
// value; nothing crashes, allocates without bound or reads out of range.
#include <caf/all.hpp>

#include <cstdint>

#include "actors/cluster.hpp"
#include "actors/remote_retrieval.hpp"
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
  auto which = in.byte() % 5;
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
    default: {
      remote_attach a;
      if (read(in.rest, a)) (void)askd::core::node_of_stream(a.stream_id);
    }
  }
  return 0;
}
