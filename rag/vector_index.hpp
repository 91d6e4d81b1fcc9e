// rag/vector_index.hpp — the vectors of one lexical index's chunks (by chunk number),
// from one embedder: a file next to the lexical index named by the embedder's key
// (id, model, asked dimensions), so vectors of different embedders or sizes are never
// mixed; written to a temporary file and renamed into place, so a build killed halfway
// leaves nothing. Searched by brute force (dot products of unit vectors): a
// repository's few thousand chunks take milliseconds, and nothing new to install.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rag/chunk.hpp"

namespace askd::rag {

class vector_index {
 public:
  // Where the vectors of `embedder_key` live for the index at `index_dir`.
  static std::string path_for(const std::string& index_dir, const std::string& embedder_key);
  // Writes `vectors` (one per chunk, all of one length) atomically.
  static void write(const std::string& path, const std::vector<std::vector<float>>& vectors);
  // Reads the file; nullptr when there is none; throws std::runtime_error when it is not
  // a whole vector file.
  static std::unique_ptr<vector_index> open(const std::string& path);

  std::size_t dimensions() const { return dim_; }
  std::size_t size() const { return count_; }
  // The `k` chunks nearest `query` (unit length, of this index's dimensions), best first:
  // (chunk number, cosine similarity).
  std::vector<std::pair<std::uint32_t, float>> search(const std::vector<float>& query,
                                                      std::size_t k) const;

 private:
  std::size_t dim_ = 0;
  std::size_t count_ = 0;
  std::vector<float> data_;
};

// Reciprocal rank fusion of ranked lists (best first): each chunk scores the sum of
// 1 / (rrf_k + rank) over the lists it is in; the best `k`, scores replaced by that.
std::vector<context_chunk> fuse_ranked(const std::vector<std::vector<context_chunk>>& lists,
                                       std::size_t k, double rrf_k = 60);

}  // namespace askd::rag
