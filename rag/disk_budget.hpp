// rag/disk_budget.hpp — what askd keeps on disk under its data dir, and what goes when it
// keeps too much (repos.disk_mb): each checkout (data_dir/repos/*) and each index
// (data_dir/indexes/*) is one item; past the budget the least recently used items that
// are not in use are removed. Every distinct filter builds an index of its own, so
// without this a client varying excluded_files fills the disk (issue 17).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace askd::rag {

struct disk_item {
  std::string path;
  std::uint64_t bytes = 0;
  std::chrono::system_clock::time_point used;  // its directory's mtime unless told better
  bool in_use = false;                         // never removed
};

// The items under `data_dir`, with their sizes. Temporaries (a build's or clone's
// "<name>.tmp-<pid>…", a removal's "<name>.trash-<pid>…") are not items.
std::vector<disk_item> disk_items(const std::string& data_dir);

// The paths to remove, least recently used first, so that what remains fits in `budget`
// bytes. Items in use stay even when they alone are over it.
std::vector<std::string> over_budget(std::vector<disk_item> items, std::uint64_t budget);

// Removes the temporaries under `data_dir` whose process is gone (a crash or kill in a
// clone or build leaves them); returns how many.
std::size_t remove_stale_temporaries(const std::string& data_dir);

// Renames `path` out of the way at once ("<path>.trash-<pid>-<n>", which
// remove_stale_temporaries or remove_all then deletes). Returns the new name, or ""
// when it could not (e.g. already gone).
std::string move_to_trash(const std::string& path);

}  // namespace askd::rag
