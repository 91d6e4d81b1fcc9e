// The disk budget: which checkouts and indexes go when the data dir holds too much, and
// the temporaries a crashed askd left.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "rag/disk_budget.hpp"
#include "tests/support/temp_dir.hpp"

using namespace askd;
namespace fs = std::filesystem;
using std::chrono::hours;

namespace {
rag::disk_item item(std::string path, std::uint64_t bytes, int hours_ago, bool in_use = false) {
  return {std::move(path), bytes, std::chrono::system_clock::now() - hours(hours_ago), in_use};
}

void file_of(const std::string& path, std::size_t bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << std::string(bytes, 'x');
}

// A process id that was in use a moment ago and is not any more.
pid_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}
}  // namespace

TEST_CASE("past the budget the least recently used items go and never one in use") {
  std::vector<rag::disk_item> items{item("a", 400, 5), item("b", 300, 9), item("c", 300, 1),
                                    item("d", 500, 20, true)};
  // 1500 bytes held. Under a 1200-byte budget: d is older but in use; b (9 h) goes.
  CHECK(rag::over_budget(items, 1200) == std::vector<std::string>{"b"});
  CHECK(rag::over_budget(items, 1000) == std::vector<std::string>{"b", "a"});
  // Under 500 all but d go, and d alone is its 500.
  CHECK(rag::over_budget(items, 500) == std::vector<std::string>{"b", "a", "c"});
  CHECK(rag::over_budget(items, 1500).empty());
  CHECK(rag::over_budget(items, 0) == std::vector<std::string>{"b", "a", "c"});
  CHECK(rag::over_budget({}, 0).empty());
}

TEST_CASE("the items are each checkout and each index, sized, without temporaries") {
  test::temp_dir data;
  file_of(data.path + "/repos/r1/.git/HEAD", 100);
  file_of(data.path + "/repos/r1/src/a.cpp", 1000);
  file_of(data.path + "/indexes/i1/index-0.askd", 2000);
  file_of(data.path + "/indexes/i1.tmp-1-0/index-0.askd", 5000);
  file_of(data.path + "/repos/r2.tmp-77", 10);
  std::ofstream(data.path + "/repos/r1.lock") << "";
  auto items = rag::disk_items(data.path);
  std::map<std::string, std::uint64_t> by_name;
  for (const auto& i : items) by_name[fs::path(i.path).filename().string()] = i.bytes;
  CHECK(by_name == std::map<std::string, std::uint64_t>{{"r1", 1100}, {"i1", 2000}});
}

TEST_CASE("temporaries of a process that is gone are removed, a live one's are not") {
  test::temp_dir data;
  auto gone = std::to_string(dead_pid());
  auto me = std::to_string(::getpid());
  file_of(data.path + "/repos/abc.tmp-" + gone + "/.git/HEAD", 10);
  file_of(data.path + "/indexes/def.tmp-" + gone + "-3/index-0.askd", 10);
  file_of(data.path + "/indexes/ghi.tmp-" + me + "-1/index-0.askd", 10);  // a build running now
  file_of(data.path + "/indexes/old.trash-" + me + "-2/index-0.askd", 10);
  file_of(data.path + "/indexes/kept/index-0.askd", 10);
  CHECK(rag::remove_stale_temporaries(data.path) == 3);
  CHECK_FALSE(fs::exists(data.path + "/repos/abc.tmp-" + gone));
  CHECK_FALSE(fs::exists(data.path + "/indexes/def.tmp-" + gone + "-3"));
  CHECK_FALSE(fs::exists(data.path + "/indexes/old.trash-" + me + "-2"));
  CHECK(fs::exists(data.path + "/indexes/ghi.tmp-" + me + "-1"));
  CHECK(fs::exists(data.path + "/indexes/kept"));

  auto moved = rag::move_to_trash(data.path + "/indexes/kept");
  REQUIRE_FALSE(moved.empty());
  CHECK_FALSE(fs::exists(data.path + "/indexes/kept"));
  CHECK(rag::disk_items(data.path).empty());
  CHECK(rag::move_to_trash(data.path + "/indexes/kept").empty());
}
