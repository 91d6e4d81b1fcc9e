// rag/durable.hpp — the steps that make a file written here survive a power loss in a
// state askd can trust: its bytes reach the disk before whatever declares them complete
// (an index shard's header, a rename into place), and a rename reaches the disk through
// an fsync of the directory it changed. Without them a crash can leave a complete-looking
// index over stale pages (issue 17).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace askd::rag::durable {

// A name beside `path` no other writer uses: "<path><mark><pid>-<n>" (mark ".tmp-" for
// work in progress, ".trash-" for what is being deleted; rag::remove_stale_temporaries
// reads the pid back to tell a live process's temporaries from a dead one's).
std::string temporary_name(const std::string& path, std::string_view mark);
// Writes all `n` bytes to `fd` (throws std::runtime_error naming `path` when it cannot).
void write_all(int fd, const void* data, std::size_t n, const std::string& path);
// fdatasync(fd); throws std::runtime_error naming `path` when the disk refuses.
void sync(int fd, const std::string& path);
// fsync of a directory: the names created, removed or renamed in it are on disk.
void sync_dir(const std::string& dir);
// Writes `path` whole or not at all: `fill` writes a temporary file next to it (with
// put), which is synced, renamed over `path`, and the directory synced. Throws on
// failure (the temporary is removed).
class writer {
 public:
  void put(const void* data, std::size_t n);

 private:
  friend void write_file(const std::string&, const std::function<void(writer&)>&);
  writer(int fd, const std::string& path) : fd_(fd), path_(path) {}
  int fd_;
  const std::string& path_;
};
void write_file(const std::string& path, const std::function<void(writer&)>& fill);
// rename(from, to), then sync_dir of to's directory. False (errno set) when it failed.
bool rename(const std::string& from, const std::string& to);

// Tests watch the order of these steps: set, every step calls `fn(step, path)` (steps:
// "sync", "sync_dir", "rename"), from whichever thread takes it. Empty: nothing is called.
using trace_fn = std::function<void(std::string_view step, const std::string& path)>;
void set_trace(trace_fn fn);

}  // namespace askd::rag::durable
