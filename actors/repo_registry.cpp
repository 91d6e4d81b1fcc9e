#include "actors/repo_registry.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "actors/cluster.hpp"
#include "actors/parallel.hpp"
#include "actors/remote_retrieval.hpp"
#include "actors/retriever.hpp"
#include "core/log.hpp"
#include "core/slot_table.hpp"
#include "rag/disk_budget.hpp"
#include "rag/git_fetch.hpp"

namespace askd::actors {
namespace {

struct waiter {
  caf::typed_response_promise<retrieval_reply> promise;
  search_request search;
};

struct entry {
  retriever_actor retriever;  // set while the index is open
  std::string index_dir;      // the open index's directory
  std::string checkout;       // a remote's checkout (data_dir/repos/…); "" for a local one
  std::uint64_t bytes = 0;    // the index's size on disk: what it costs in page cache
  std::vector<waiter> waiting;
  bool building = false;
  std::chrono::steady_clock::time_point built;
  std::chrono::steady_clock::time_point used;
};

void indexer(caf::event_based_actor* self, repo_registry_actor registry, std::string key,
             rag::repo_source source, std::string token,
             std::shared_ptr<const rag::file_filter> filter,
             std::shared_ptr<engine_context> context);

// A build waiting for an indexing slot.
struct pending_build {
  std::string key;
  rag::repo_source source;
  std::string token;
  std::shared_ptr<const rag::file_filter> filter;
};

struct registry_state {
  std::map<std::string, entry> entries;
  // The indexing limit, keyed by index key: repos.max_concurrent_builds building,
  // repos.max_queued_builds waiting (in `pending`) for a slot.
  core::slot_table<std::string> builds{1, 0};
  std::map<std::string, pending_build> pending;
  limiter_gauges* gauges = nullptr;
  static inline const char* name = "repo_registry";
};

using self_ptr = repo_registry_actor::stateful_pointer<registry_state>;

std::chrono::system_clock::time_point to_system(std::chrono::steady_clock::time_point t) {
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::steady_clock::now() - t);
}

// Sets `dir`'s mtime to when it was last used: what disk_items reads once the registry
// no longer remembers it.
void touch(const std::string& dir, std::chrono::steady_clock::time_point used) {
  if (dir.empty()) return;
  auto since_epoch = to_system(used).time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs);
  timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(secs.count()), nanos.count()}};
  ::utimensat(AT_FDCWD, dir.c_str(), times, 0);
}

void publish(registry_state& st) {
  st.gauges->active = static_cast<std::int64_t>(st.builds.active());
  st.gauges->queued = static_cast<std::int64_t>(st.builds.queued());
}

void launch(self_ptr self, pending_build b, const std::shared_ptr<engine_context>& context) {
  core::log_info("indexing").kv("repo", b.source.local ? b.source.path : b.source.url);
  context->metrics.index_builds++;
  self->spawn<caf::detached>(indexer, repo_registry_actor{self}, std::move(b.key),
                             std::move(b.source), std::move(b.token), std::move(b.filter), context);
}

// Closes the least recently used idle indexes while the open ones cost more than the
// budget. A closed index reopens from disk on the next request (milliseconds).
void evict(self_ptr self, const std::string& keep, std::uint64_t budget) {
  auto& entries = self->state.entries;
  for (;;) {
    std::uint64_t total = 0;
    auto victim = entries.end();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (!it->second.retriever) continue;
      total += it->second.bytes;
      if (it->first == keep || it->second.building || !it->second.waiting.empty()) continue;
      if (victim == entries.end() || it->second.used < victim->second.used) victim = it;
    }
    if (total <= budget || victim == entries.end()) return;
    core::log_info("index closed")
        .kv("repo", victim->first.substr(0, victim->first.find('\n')))
        .kv("bytes", victim->second.bytes)
        .kv("reason", "index_memory_mb");
    self->send(victim->second.retriever, gone_atom::value);
    touch(victim->second.index_dir, victim->second.used);
    entries.erase(victim);
  }
}

// Keeps the data dir within repos.disk_mb: `items` is what the indexer found on disk;
// what an entry is building or waiting for, and the index `keep` just built (and its
// checkout), stay. Victims are renamed away at once and deleted on a thread of their own.
void keep_disk_budget(self_ptr self, std::vector<rag::disk_item> items, const std::string& keep,
                      std::uint64_t budget) {
  auto& entries = self->state.entries;
  std::map<std::string, const entry*> open_by_dir;
  std::set<std::string> busy;
  for (const auto& [key, e] : entries) {
    bool in_use = key == keep || e.building || !e.waiting.empty();
    if (!e.index_dir.empty()) open_by_dir[e.index_dir] = &e;
    if (in_use && !e.index_dir.empty()) busy.insert(e.index_dir);
    if (in_use && !e.checkout.empty()) busy.insert(e.checkout);
  }
  std::uint64_t total = 0;
  for (auto& item : items) {
    total += item.bytes;
    item.in_use = busy.count(item.path) > 0;
    if (auto it = open_by_dir.find(item.path); it != open_by_dir.end())
      item.used = std::max(item.used, to_system(it->second->used));
  }
  auto victims = rag::over_budget(items, budget);
  if (victims.empty()) return;
  std::vector<std::string> trash;
  std::uint64_t freed = 0;
  for (const auto& path : victims) {
    for (auto it = entries.begin(); it != entries.end(); ++it)
      if (it->second.index_dir == path) {  // open but idle: close it first
        self->send(it->second.retriever, gone_atom::value);
        entries.erase(it);
        break;
      }
    for (const auto& item : items)
      if (item.path == path) freed += item.bytes;
    if (auto moved = rag::move_to_trash(path); !moved.empty()) trash.push_back(std::move(moved));
  }
  core::log_info("disk budget")
      .kv("removed", static_cast<std::uint64_t>(victims.size()))
      .kv("freed_bytes", freed)
      .kv("kept_bytes", total - freed)
      .kv("budget_bytes", budget);
  if (total - freed > budget)
    core::log_warn("disk budget exceeded by what is in use").kv("bytes", total - freed);
  self->spawn<caf::detached>([trash = std::move(trash)] {
    for (const auto& p : trash) {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  });
}

// A build's cancel flag: set when askd stops or the build's time is up (a repository
// and filters made to be slow must not hold an indexing slot for ever). A watchdog
// thread per build looks every 100 ms and ends with it.
class build_deadline {
 public:
  build_deadline(const std::atomic<bool>& stopping, std::chrono::seconds limit)
      : watchdog_([this, &stopping, until = std::chrono::steady_clock::now() + limit] {
          std::unique_lock lock(mu_);
          while (!done_) {
            if (stopping.load() || std::chrono::steady_clock::now() >= until) {
              give_up = true;
              return;
            }
            cv_.wait_for(lock, std::chrono::milliseconds(100));
          }
        }) {}
  ~build_deadline() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
  }
  std::atomic<bool> give_up{false};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watchdog_;
};

// The indexer: runs detached (its own thread): fetches a remote, builds, reports, quits.
void indexer(caf::event_based_actor* self, repo_registry_actor registry, std::string key,
             rag::repo_source source, std::string token,
             std::shared_ptr<const rag::file_filter> filter,
             std::shared_ptr<engine_context> context) {
  index_result r;
  const auto& cfg = context->config;
  try {
    std::string path = source.path;
    std::string index_key = key;
    if (!source.local) {
      rag::fetch_request f;
      f.url = source.url;
      f.type = source.type;
      f.token = std::move(token);
      f.dest = source.checkout;
      f.timeout = std::chrono::seconds(cfg.repos.clone_timeout_s);
      f.max_bytes = cfg.repos.max_repo_mb << 20;
      f.refresh_interval = std::chrono::seconds(cfg.repos.refresh_interval_s);
      f.cancel = &context->stopping;
      self->send(registry, progress_atom::value, key, std::string("clone"), std::int64_t{0},
                 std::int64_t{1});
      auto fetched = rag::fetch_repo(f);
      self->send(registry, progress_atom::value, key, std::string("clone"), std::int64_t{1},
                 std::int64_t{1});
      if (!fetched) {
        r.failure = fetched.err();
        self->send(registry, indexed_atom::value, std::move(key), std::move(r));
        return;
      }
      core::log_info("fetched")
          .kv("repo", source.url)
          .kv("commit", fetched->commit)
          .kv("updated", fetched->fetched);
      path = fetched->path;
      index_key += "\ncommit:" + fetched->commit;
    }
    // Called from the build's threads: anon_send is safe from any thread.
    rag::index_progress progress = [registry, key](std::size_t done, std::size_t total) {
      caf::anon_send(registry, progress_atom::value, key, std::string("index"),
                     static_cast<std::int64_t>(done), static_cast<std::int64_t>(total));
    };
    build_deadline deadline(context->stopping, std::chrono::seconds(cfg.repos.index_timeout_s));
    r.index = rag::build_repo_index(path, *filter, cfg.repo, cfg.data_dir + "/indexes", index_key,
                                    &deadline.give_up, &thread_runner(), index_shards(), progress);
    if (!r.index && context->stopping)
      r.failure =
          core::error::make(core::error_code::cancelled, "indexing cancelled: askd is stopping");
    else if (!r.index)
      r.failure = core::error::make(
          core::error_code::timeout,
          "indexing took longer than repos.index_timeout_s (" +
              std::to_string(cfg.repos.index_timeout_s) +
              " s): the repository or its filters are too costly; narrow them");
    else if (cfg.repos.disk_mb > 0) {
      // Sizing the data dir walks checkouts: here, on the indexer's thread, not in the
      // registry. Temporaries a crashed askd left go first.
      if (auto stale = rag::remove_stale_temporaries(cfg.data_dir); stale > 0)
        core::log_info("removed stale temporaries").kv("count", static_cast<std::uint64_t>(stale));
      r.disk = rag::disk_items(cfg.data_dir);
    }
  } catch (const std::exception& e) {
    r.failure =
        core::error::make(core::error_code::internal, std::string("indexing failed: ") + e.what());
  }
  self->send(registry, indexed_atom::value, std::move(key), std::move(r));
}

repo_registry_actor::behavior_type registry(self_ptr self, std::shared_ptr<engine_context> context,
                                            limiter_gauges* gauges,
                                            std::shared_ptr<cluster_peers> peers) {
  const auto& repos = context->config.repos;
  self->state.builds =
      core::slot_table<std::string>(static_cast<std::size_t>(repos.max_concurrent_builds),
                                    static_cast<std::size_t>(repos.max_queued_builds));
  self->state.gauges = gauges;
  // Retrievers keep themselves alive until told `gone`: tell them all when stopping.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& [key, e] : self->state.entries)
      if (e.retriever) self->send(e.retriever, gone_atom::value);
    self->quit(std::move(msg.reason));
  });
  // A retriever that died (it should not) takes its entry with it: the next request
  // reopens the index instead of failing forever.
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& entries = self->state.entries;
    for (auto it = entries.begin(); it != entries.end(); ++it)
      if (it->second.retriever && it->second.retriever.address() == msg.source &&
          it->second.waiting.empty()) {
        entries.erase(it);
        return;
      }
  });
  return {
      [=](retrieve_atom, retrieval_query& q) -> caf::result<retrieval_reply> {
        // In a cluster each key is indexed by its owner only; the others ask it.
        if (peers && !q.here &&
            context->cluster->owner_of(q.source.key) != context->cluster->self()) {
          context->metrics.remote_retrievals++;
          return self->delegate(spawn_remote_retrieval(*self, context, peers, self),
                                retrieve_atom::value, std::move(q));
        }
        auto& e = self->state.entries[q.source.key];
        // Under the indexing limit a build starts now; past it, it waits in a bounded
        // queue; past that, the request is refused at once.
        auto start_build = [&]() -> bool {
          auto& st = self->state;
          pending_build b{q.source.key, q.source, std::move(q.token), q.filter};
          auto outcome = st.builds.claim(b.key);
          if (outcome == core::slot_table<std::string>::claim_result::refused) {
            st.gauges->refused++;
            return false;
          }
          if (outcome == core::slot_table<std::string>::claim_result::granted)
            launch(self, std::move(b), context);
          else
            st.pending.emplace(b.key, std::move(b));
          publish(st);
          e.building = true;
          e.checkout = q.source.checkout;
          return true;
        };
        e.used = std::chrono::steady_clock::now();
        if (e.retriever) {
          // A remote is fetched again after refresh_interval; meanwhile the index it has
          // keeps answering.
          auto age = e.used - e.built;
          if (!q.source.local && !e.building &&
              age > std::chrono::seconds(context->config.repos.refresh_interval_s))
            start_build();
          return self->delegate(e.retriever, retrieve_atom::value, std::move(q.search));
        }
        if (!e.building && !start_build()) {
          self->state.entries.erase(q.source.key);
          return retrieval_reply::failed(
              core::error::make(core::error_code::overloaded,
                                "too many repositories are being indexed; retry shortly"));
        }
        auto rp = self->make_response_promise<retrieval_reply>();
        self->state.entries[q.source.key].waiting.push_back(waiter{rp, std::move(q.search)});
        return rp;
      },
      [=](progress_atom, const std::string& key, const std::string& phase, std::int64_t done,
          std::int64_t total) {
        auto it = self->state.entries.find(key);
        if (it == self->state.entries.end()) return;
        for (const auto& w : it->second.waiting)
          if (w.search.on_progress) w.search.on_progress(phase, done, total);
      },
      [=](indexed_atom, std::string& key, index_result& r) {
        auto& st = self->state;
        for (const auto& next : st.builds.release(key)) {
          auto p = st.pending.find(next);
          launch(self, std::move(p->second), context);
          st.pending.erase(p);
        }
        publish(st);
        auto it = self->state.entries.find(key);
        if (it == self->state.entries.end()) return;
        auto waiting = std::move(it->second.waiting);
        if (r.failure) {
          core::log_warn("indexing failed").kv("error", r.failure->message);
          if (it->second.retriever) {  // a refresh failed: keep serving what we have
            it->second.building = false;
            it->second.built = std::chrono::steady_clock::now();
            return;
          }
          self->state.entries.erase(it);  // the next request tries again
          for (auto& w : waiting) w.promise.deliver(retrieval_reply::failed(*r.failure));
          return;
        }
        auto& e = it->second;
        e.building = false;
        e.built = e.used = std::chrono::steady_clock::now();
        if (e.retriever) self->send(e.retriever, gone_atom::value);  // replaced by the refresh
        auto index = std::move(r.index);
        e.retriever = spawn_retriever(*self, index, context);
        self->monitor(e.retriever);
        e.index_dir = index->dir;
        e.bytes = rag::dir_bytes(index->dir);
        const auto& s = index->stats;
        core::log_info("indexed")
            .kv("repo", key.substr(0, key.find('\n')))
            .kv("files", static_cast<std::uint64_t>(s.files))
            .kv("bytes", static_cast<std::uint64_t>(s.bytes))
            .kv("chunks", static_cast<std::uint64_t>(index->chunks))
            .kv("index_bytes", e.bytes)
            .kv("reopened", index->reopened)
            .kv("dir", index->dir)
            .kv("skipped_filtered", static_cast<std::uint64_t>(s.filtered))
            .kv("skipped_ignored", static_cast<std::uint64_t>(s.ignored))
            .kv("skipped_binary", static_cast<std::uint64_t>(s.binary))
            .kv("skipped_large", static_cast<std::uint64_t>(s.too_large))
            .kv("skipped_not_utf8", static_cast<std::uint64_t>(s.not_utf8))
            .kv("build_ms", static_cast<std::int64_t>(index->build_ms));
        for (auto& w : waiting)
          w.promise.delegate(e.retriever, retrieve_atom::value, std::move(w.search));
        evict(self, key, context->config.repos.index_memory_mb << 20);
        if (context->config.repos.disk_mb > 0)
          keep_disk_budget(self, std::move(r.disk), key, context->config.repos.disk_mb << 20);
      },
  };
}

}  // namespace

repo_registry_actor spawn_repo_registry(caf::actor_system& system,
                                        std::shared_ptr<engine_context> context,
                                        limiter_gauges* gauges,
                                        std::shared_ptr<cluster_peers> peers) {
  return system.spawn(registry, std::move(context), gauges, std::move(peers));
}

}  // namespace askd::actors
