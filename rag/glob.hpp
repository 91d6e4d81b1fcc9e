// rag/glob.hpp — glob matching as .gitignore and file filters use it: `*` and `?` never
// cross '/', `[abc]`/`[!a-z]` classes, `**` crosses directories ("a/**/b", "**/x", "x/**").
#pragma once

#include <string_view>

namespace askd::rag {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace askd::rag
