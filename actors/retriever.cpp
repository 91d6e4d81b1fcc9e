#include "actors/retriever.hpp"

namespace askd::actors {
namespace {

struct retriever_state {
  std::shared_ptr<const rag::repo_index> index;
  // Keeps the retriever alive after the registry lets go, until `gone` has been
  // handled: requests already in its mailbox are answered, not dropped.
  retriever_actor keep_alive;
  static inline const char* name = "retriever";
};

using self_ptr = retriever_actor::stateful_pointer<retriever_state>;

retriever_actor::behavior_type retriever(self_ptr self,
                                         std::shared_ptr<const rag::repo_index> index) {
  self->state.index = std::move(index);
  self->state.keep_alive = caf::actor_cast<retriever_actor>(self);
  return {
      [=](gone_atom) {
        self->state.keep_alive = nullptr;
        self->quit();
      },
      [=](retrieve_atom, const std::string& query, std::size_t k) -> retrieval_reply {
        return retrieval_reply{self->state.index->index->search(query, k), std::nullopt};
      },
  };
}

}  // namespace

retriever_actor spawn_retriever(caf::local_actor& parent,
                                std::shared_ptr<const rag::repo_index> index) {
  return parent.spawn(retriever, std::move(index));
}

}  // namespace askd::actors
