#include "dist/expert_parallel.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "dist/world.h"
#include "io/checkpoint.h"
#include "model/moe.h"

namespace dsv3::dist {

ExpertParallelMoe::ExpertParallelMoe(Communicator& g, int64_t n_experts, int64_t hidden)
    : comm_(g), place_(place_experts(n_experts, g)), H_(hidden), exchange_(g, place_, hidden) {}

void ExpertParallelMoe::forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& p,
                                ExpertLoad* load) {
  const int64_t H = H_, E = p.n_experts, K = p.top_k, N = comm_.size(), r = comm_.rank();
  // Routing and the shared expert on every row, on every rank, exactly as moe_forward does
  // (a product's rounding may depend on how many rows it sees, so no rank computes a subset).
  std::vector<float> scores(static_cast<size_t>(n * E)), weights(static_cast<size_t>(n * K));
  std::vector<int32_t> ids(static_cast<size_t>(n * K));
  router_scores(scores.data(), x, n, w.gate, p);
  for (int64_t t = 0; t < n; ++t)
    route_token(scores.data() + t * E, w.e_score_correction_bias.data, p, ids.data() + t * K, weights.data() + t * K);
  if (!w.shared_experts.empty()) mlp_forward(out, x, n, w.shared_experts);
  else std::memset(out, 0, size_t(n * H) * sizeof(float));
  if (load) {
    load->tokens_per_expert.assign(size_t(E), 0);
    for (int32_t e : ids) ++load->tokens_per_expert[size_t(e)];
  }
  rows_ += n;

  // This rank's slice of rows goes to the experts' owners.
  std::vector<int64_t> lo(static_cast<size_t>(N + 1));
  for (int64_t q = 0; q <= N; ++q) lo[size_t(q)] = n * q / N;
  const int64_t a = lo[size_t(r)], b = lo[size_t(r + 1)];
  exchange_.dispatch(x + a * H, b - a, ids.data() + a * K, K);

  // Local experts in ascending id, each over its received rows in arrival (= token) order.
  const int64_t P = exchange_.pairs();
  std::vector<float> y(static_cast<size_t>(P * H)), xe, ye;
  std::vector<std::vector<int64_t>> by_expert(size_t(place_.per_rank()));
  for (int64_t q = 0; q < P; ++q)
    by_expert[size_t(exchange_.pair_expert()[size_t(q)] - place_.first_local())].push_back(q);
  for (int64_t le = 0; le < place_.per_rank(); ++le) {
    const auto& pairs = by_expert[size_t(le)];
    const int64_t m = int64_t(pairs.size());
    if (m == 0) continue;
    xe.resize(static_cast<size_t>(m * H));
    ye.resize(static_cast<size_t>(m * H));
    for (int64_t j = 0; j < m; ++j)
      std::memcpy(&xe[size_t(j * H)], exchange_.received_x() + exchange_.pair_row()[size_t(pairs[size_t(j)])] * H,
                  size_t(H) * 4);
    mlp_forward(ye.data(), xe.data(), m, w.experts[size_t(place_.first_local() + le)]);
    for (int64_t j = 0; j < m; ++j) std::memcpy(&y[size_t(pairs[size_t(j)] * H)], &ye[size_t(j * H)], size_t(H) * 4);
  }
  exchange_.combine(y.data(), weights.data() + a * K, out + a * H);

  // Every rank needs every row for the next (replicated) attention.
  std::vector<int64_t> counts(static_cast<size_t>(N));
  for (int64_t q = 0; q < N; ++q) counts[size_t(q)] = (lo[size_t(q + 1)] - lo[size_t(q)]) * H;
  const std::vector<float> mine(out + a * H, out + b * H);
  comm_.all_gather(mine.data(), out, counts, Elem::F32);
}

uint64_t checkpoint_fingerprint(const std::string& config_json_path, const Checkpoint& ckpt) {
  std::ifstream f(config_json_path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string cfg = ss.str();
  uint64_t h = fnv1a(cfg.data(), cfg.size());
  constexpr size_t kSmall = size_t(4) << 20;
  for (const std::string& name : ckpt.names()) {
    const TensorInfo& t = *ckpt.find(name);
    h = fnv1a(name.data(), name.size(), h);
    h = fnv1a(&t.dtype, sizeof t.dtype, h);
    h = fnv1a(t.shape.data(), t.shape.size() * sizeof(int64_t), h);
    if (t.nbytes <= kSmall && name.find(".experts.") == std::string::npos) h = fnv1a(t.data, t.nbytes, h);
  }
  return h;
}

}  // namespace dsv3::dist
