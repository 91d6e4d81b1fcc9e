#include "actors/retriever.hpp"

#include <filesystem>

#include "core/log.hpp"

namespace askd::actors {
namespace {

using searcher_actor =
    caf::typed_actor<caf::replies_to<retrieve_atom, search_request>::with<retrieval_reply>>;

struct retriever_state {
  std::shared_ptr<const rag::repo_index> index;
  std::shared_ptr<engine_context> context;
  // Keeps the retriever alive after the registry lets go, until `gone` has been
  // handled: requests already in its mailbox are answered, not dropped.
  retriever_actor keep_alive;
  static inline const char* name = "retriever";
};

using self_ptr = retriever_actor::stateful_pointer<retriever_state>;

// What a vector or hybrid search answers, computed on the caller's thread (it blocks on
// the embedder): the detached searcher's work.
retrieval_reply search_by_vectors(const rag::repo_index& index, const search_request& s,
                                  engine_context& context);

// One vector search on its own thread: answers once, then quits.
searcher_actor::behavior_type searcher(searcher_actor::pointer self,
                                       std::shared_ptr<const rag::repo_index> index,
                                       std::shared_ptr<engine_context> context) {
  return {
      [=](retrieve_atom, const search_request& s) -> retrieval_reply {
        auto reply = search_by_vectors(*index, s, *context);
        self->quit();
        return reply;
      },
  };
}

retriever_actor::behavior_type retriever(self_ptr self,
                                         std::shared_ptr<const rag::repo_index> index,
                                         std::shared_ptr<engine_context> context) {
  self->state.index = std::move(index);
  self->state.context = std::move(context);
  self->state.keep_alive = caf::actor_cast<retriever_actor>(self);
  return {
      [=](gone_atom) {
        self->state.keep_alive = nullptr;
        self->quit();
      },
      [=](retrieve_atom, search_request& s) -> caf::result<retrieval_reply> {
        auto& st = self->state;
        if (s.mode != "vector" && s.mode != "hybrid")
          return retrieval_reply{st.index->index->search(s.query, s.k), std::nullopt, {}};
        auto worker = self->spawn<caf::detached>(searcher, st.index, st.context);
        return self->delegate(worker, retrieve_atom::value, std::move(s));
      },
  };
}

// A failed vector build is not tried again for this long (each try embeds the whole
// repository); searches meanwhile use bm25 and say why.
constexpr std::chrono::seconds rebuild_after_failure{60};

std::vector<rag::context_chunk> by_bm25(const rag::repo_index& index, const search_request& s) {
  return index.index->search(s.query, s.k);
}

// The chunks as an embedder sees them: the path, then the text.
std::string embed_text(const rag::context_chunk& c) {
  return c.path + "\n\n" + c.text;
}

retrieval_reply search_by_vectors(const rag::repo_index& index, const search_request& s,
                                  engine_context& context) {
  auto degrade = [&](const std::string& why) {
    return retrieval_reply{by_bm25(index, s), std::nullopt, "bm25 (" + why + ")"};
  };
  auto found = context.embedders.find(s.embedder);
  if (found == context.embedders.end()) return degrade("no embedder " + s.embedder);
  const auto& e = *found->second;
  providers::embed_context ec{context.curl, context.embed_limit.get(), &context.stopping};
  std::shared_ptr<const rag::vector_index> vectors;
  {
    std::lock_guard lock(index.vectors_mutex);
    auto& cached = index.vectors[e.key()];
    if (!cached) {
      auto path = rag::vector_index::path_for(index.dir, e.key());
      try {
        cached = rag::vector_index::open(path);
      } catch (const std::exception& ex) {
        core::log_warn("vectors unreadable").kv("path", path).kv("error", ex.what());
      }
      if (cached && cached->size() != index.index->size()) cached.reset();
      auto failed = index.vectors_failed.find(e.key());
      if (!cached && failed != index.vectors_failed.end() &&
          std::chrono::steady_clock::now() - failed->second.first < rebuild_after_failure)
        return degrade("embedder " + e.settings().id + " failed to build the vectors less than " +
                       std::to_string(rebuild_after_failure.count()) +
                       " s ago: " + failed->second.second);
      if (!cached) {
        std::vector<std::string> texts;
        texts.reserve(index.index->size());
        for (std::size_t i = 0; i < index.index->size(); ++i)
          texts.push_back(embed_text(index.index->chunk(i)));
        auto built = embed_texts(ec, e, texts, [&](std::size_t done, std::size_t total) {
          if (s.on_progress)
            s.on_progress("embed", static_cast<std::int64_t>(done),
                          static_cast<std::int64_t>(total));
        });
        if (built.failure) {
          index.vectors_failed[e.key()] = {std::chrono::steady_clock::now(),
                                           built.failure->message};
          return degrade("embedder " + e.settings().id + ": " + built.failure->message);
        }
        index.vectors_failed.erase(e.key());
        try {
          rag::vector_index::write(path, built.vectors);
          cached = rag::vector_index::open(path);
        } catch (const std::exception& ex) {
          return degrade(std::string("vectors not written: ") + ex.what());
        }
        core::log_info("embedded")
            .kv("dir", index.dir)
            .kv("embedder", e.key())
            .kv("chunks", static_cast<std::uint64_t>(built.vectors.size()));
      }
    }
    vectors = cached;
  }
  auto q = embed_texts(ec, e, {s.query});
  if (q.failure) return degrade("embedder " + e.settings().id + ": " + q.failure->message);
  if (q.vectors.at(0).size() != vectors->dimensions()) {
    // The model behind the name changed (re-pulled, another host): the kept vectors are
    // stale. Dropped, so the next search builds them again.
    {
      std::lock_guard lock(index.vectors_mutex);
      auto& cached = index.vectors[e.key()];
      if (cached == vectors) {
        cached.reset();
        std::error_code ec;
        std::filesystem::remove(rag::vector_index::path_for(index.dir, e.key()), ec);
      }
    }
    return degrade("the question's vector has " + std::to_string(q.vectors[0].size()) +
                   " dimensions, the index's " + std::to_string(vectors->dimensions()) +
                   "; they are built again on the next search");
  }
  std::vector<rag::context_chunk> nearest;
  for (auto [i, score] : vectors->search(q.vectors[0], s.k)) {
    auto c = index.index->chunk(i);
    c.score = score;
    nearest.push_back(std::move(c));
  }
  if (s.mode == "vector") return retrieval_reply{std::move(nearest), std::nullopt, {}};
  return retrieval_reply{rag::fuse_ranked({by_bm25(index, s), nearest}, s.k), std::nullopt, {}};
}

}  // namespace

retriever_actor spawn_retriever(caf::local_actor& parent,
                                std::shared_ptr<const rag::repo_index> index,
                                std::shared_ptr<engine_context> context) {
  return parent.spawn(retriever, std::move(index), std::move(context));
}

}  // namespace askd::actors
