// net/web_embedded.hpp — the web page's files as compiled into askd (net/CMakeLists.txt
// generates the definitions, with .incbin, from web/ and the bundled npm libraries).
#pragma once

#include <cstddef>

namespace askd::net::web_embedded {

struct file {
  const char* name;  // "index.html", "vendor.js"
  const char* begin;
  const char* end;
};

extern const file files[];
extern const std::size_t count;

}  // namespace askd::net::web_embedded
