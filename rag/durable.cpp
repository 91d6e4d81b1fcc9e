#include "rag/durable.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace askd::rag::durable {
namespace {

std::mutex trace_mu;
trace_fn trace_to;
std::atomic<bool> tracing{false};

void trace(std::string_view step, const std::string& path) {
  if (!tracing.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(trace_mu);
  if (trace_to) trace_to(step, path);
}

std::string parent_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

void set_trace(trace_fn fn) {
  std::lock_guard lock(trace_mu);
  trace_to = std::move(fn);
  tracing = static_cast<bool>(trace_to);
}

void sync(int fd, const std::string& path) {
  trace("sync", path);
  if (::fdatasync(fd) != 0) throw std::runtime_error("cannot sync " + path + " to disk");
}

void sync_dir(const std::string& dir) {
  trace("sync_dir", dir);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open directory " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot sync directory " + dir + " to disk");
}

bool rename(const std::string& from, const std::string& to) {
  trace("rename", to);
  if (std::rename(from.c_str(), to.c_str()) != 0) return false;
  sync_dir(parent_of(to));
  return true;
}

std::string temporary_name(const std::string& path, std::string_view mark) {
  static std::atomic<std::uint64_t> counter{0};
  return path + std::string(mark) + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void write_all(int fd, const void* data, std::size_t n, const std::string& path) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    auto w = ::write(fd, p, n);
    if (w <= 0) throw std::runtime_error("cannot write " + path);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void writer::put(const void* data, std::size_t n) {
  write_all(fd_, data, n, path_);
}

void write_file(const std::string& path, const std::function<void(writer&)>& fill) {
  auto tmp = temporary_name(path, ".tmp-");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp);
  try {
    writer w(fd, tmp);
    fill(w);
    sync(fd, tmp);
    if (::close(fd) != 0) {
      fd = -1;
      throw std::runtime_error("cannot write " + tmp);
    }
    fd = -1;
    if (!rename(tmp, path)) throw std::runtime_error("cannot rename into " + path);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace askd::rag::durable
