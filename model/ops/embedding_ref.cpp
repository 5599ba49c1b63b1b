#include "model/ops/embedding_ref.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace smolvk::ops {

void embedding_ref(std::span<const int32_t> ids, std::span<const float> table, int64_t V, int64_t H,
                   std::span<float> out) {
  if (V <= 0 || H <= 0 || table.size() < size_t(V * H) || out.size() < ids.size() * size_t(H))
    throw std::invalid_argument("embedding_ref: table or out smaller than V " + std::to_string(V) + " x H " +
                                std::to_string(H));
  for (size_t t = 0; t < ids.size(); ++t) {
    const int64_t id = std::clamp<int64_t>(ids[t], 0, V - 1);
    std::copy_n(table.begin() + id * H, H, out.begin() + int64_t(t) * H);
  }
}

}  // namespace smolvk::ops
