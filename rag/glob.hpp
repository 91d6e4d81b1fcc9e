// rag/glob.hpp — glob matching as .gitignore and file filters use it, with git's
// semantics: `*` and `?` never cross '/', `[abc]`/`[!a-z]`/`[^a-z]` classes, `\` escapes
// the next character, and a `**` path segment crosses directories ("a/**/b", "**/x",
// "x/**"); any other run of asterisks ("a**b") is a plain `*`. Matching takes time
// polynomial in the lengths (at most pattern × text steps), whatever the pattern: a
// request's or a repository's rules cannot make it backtrack exponentially.
#pragma once

#include <string_view>

namespace askd::rag {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace askd::rag
