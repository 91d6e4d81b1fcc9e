#include "rag/vector_index.hpp"

#include "rag/durable.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <unistd.h>

namespace askd::rag {
namespace {

constexpr char magic[8] = {'A', 'S', 'K', 'D', 'V', 'E', 'C', '1'};

}  // namespace

std::string vector_index::path_for(const std::string& index_dir, const std::string& embedder_key) {
  return index_dir + "/vectors-" + embedder_key + ".f32";
}

void vector_index::write(const std::string& path, const std::vector<std::vector<float>>& vectors) {
  std::uint32_t dim = vectors.empty() ? 0 : static_cast<std::uint32_t>(vectors[0].size());
  auto count = static_cast<std::uint32_t>(vectors.size());
  for (const auto& v : vectors)
    if (v.size() != dim) throw std::runtime_error("vectors of different lengths");
  durable::write_file(path, [&](durable::writer& out) {
    out.put(magic, sizeof magic);
    out.put(&dim, sizeof dim);
    out.put(&count, sizeof count);
    for (const auto& v : vectors) out.put(v.data(), v.size() * sizeof(float));
  });
}

std::unique_ptr<vector_index> vector_index::open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  char m[sizeof magic];
  std::uint32_t dim = 0, count = 0;
  in.read(m, sizeof m);
  in.read(reinterpret_cast<char*>(&dim), sizeof dim);
  in.read(reinterpret_cast<char*>(&count), sizeof count);
  if (!in || std::memcmp(m, magic, sizeof magic) != 0)
    throw std::runtime_error(path + ": not a vector file");
  auto v = std::make_unique<vector_index>();
  v->dim_ = dim;
  v->count_ = count;
  v->data_.resize(static_cast<std::size_t>(dim) * count);
  in.read(reinterpret_cast<char*>(v->data_.data()),
          static_cast<std::streamsize>(v->data_.size() * sizeof(float)));
  if (!in) throw std::runtime_error(path + ": cut short");
  return v;
}

std::vector<std::pair<std::uint32_t, float>> vector_index::search(const std::vector<float>& query,
                                                                  std::size_t k) const {
  std::vector<std::pair<std::uint32_t, float>> scored;
  if (query.size() != dim_ || dim_ == 0) return scored;
  scored.reserve(count_);
  for (std::size_t i = 0; i < count_; ++i) {
    const float* row = data_.data() + i * dim_;
    float dot = 0;
    for (std::size_t d = 0; d < dim_; ++d) dot += row[d] * query[d];
    scored.emplace_back(static_cast<std::uint32_t>(i), dot);
  }
  auto top = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(top), scored.end(),
                    [](const auto& a, const auto& b) {
                      return a.second != b.second ? a.second > b.second : a.first < b.first;
                    });
  scored.resize(top);
  return scored;
}

std::vector<context_chunk> fuse_ranked(const std::vector<std::vector<context_chunk>>& lists,
                                       std::size_t k, double rrf_k) {
  struct fused {
    context_chunk chunk;
    double score = 0;
    std::size_t first_seen = 0;
  };
  std::map<std::pair<std::string, int>, fused> by_chunk;
  std::size_t seen = 0;
  for (const auto& list : lists) {
    for (std::size_t rank = 0; rank < list.size(); ++rank) {
      const auto& c = list[rank];
      auto [it, fresh] = by_chunk.try_emplace({c.path, c.start_line});
      if (fresh) {
        it->second.chunk = c;
        it->second.first_seen = seen++;
      }
      it->second.score += 1.0 / (rrf_k + static_cast<double>(rank) + 1);
    }
  }
  std::vector<fused> all;
  all.reserve(by_chunk.size());
  for (auto& [key, f] : by_chunk) all.push_back(std::move(f));
  std::sort(all.begin(), all.end(), [](const fused& a, const fused& b) {
    return a.score != b.score ? a.score > b.score : a.first_seen < b.first_seen;
  });
  std::vector<context_chunk> out;
  for (std::size_t i = 0; i < all.size() && i < k; ++i) {
    out.push_back(std::move(all[i].chunk));
    out.back().score = all[i].score;
  }
  return out;
}

}  // namespace askd::rag
