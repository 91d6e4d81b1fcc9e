// The chat request parser and where its repository is: any body is a request or a
// bad_request with a detail; a request's repository is located or refused, never more.
#include <cstdint>

#include "core/chat_request.hpp"
#include "rag/repo_source.hpp"
#include "tests/support/embedded_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto cfg = [] {
    auto c = askd::test::embedded_config({"/tmp"});
    c.data_dir = "/tmp/askd-fuzz-data";
    c.repos.allowed_hosts.push_back("127.0.0.1:9");
    return c;
  }();
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto req = askd::core::parse_chat_request(body, cfg);
  if (!req) {
    if (req.err().code != askd::core::error_code::bad_request) __builtin_trap();
    if (req.err().message.size() > 4096) __builtin_trap();  // a detail echoes bounded text
    return 0;
  }
  auto source = askd::rag::locate_repo(*req, cfg);
  if (!source && source.err().message.size() > 4096) __builtin_trap();
  (void)askd::rag::is_inside_path(req->file_path);
  return 0;
}
