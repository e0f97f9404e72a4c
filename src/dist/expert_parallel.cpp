#include "dist/expert_parallel.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
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
  using Span = Timeline::Span;
  if (timeline_ && last_end_us_ >= 0) timeline_->add("outside MoE layers", "compute", last_end_us_, timeline_->now_us());
  const int64_t H = H_, E = p.n_experts, K = p.top_k, N = comm_.size(), r = comm_.rank();
  // Routing on every row, on every rank, exactly as moe_forward does (a product's rounding may
  // depend on how many rows it sees, so no rank computes a subset) — or, with data-parallel
  // attention, on this rank's own rows.
  std::vector<float> scores(size_t(n * E)), weights(size_t(n * K));
  std::vector<int32_t> ids(size_t(n * K));
  {
    Span s(timeline_, "router", "compute");
    if (n > 0) router_scores(scores.data(), x, n, w.gate, p);
    for (int64_t t = 0; t < n; ++t)
      route_token(scores.data() + t * E, w.e_score_correction_bias.data, p, ids.data() + t * K, weights.data() + t * K);
  }
  if (load) {
    load->tokens_per_expert.assign(size_t(E), 0);
    for (int32_t e : ids) ++load->tokens_per_expert[size_t(e)];
  }
  rows_ += n;

  // This rank's slice of rows goes to the experts' owners; the shared expert (every row, like
  // the router) runs while the rows are in flight.
  std::vector<int64_t> lo(size_t(N + 1));
  for (int64_t q = 0; q <= N; ++q) lo[size_t(q)] = n * q / N;
  const int64_t a = rows_are_own_ ? 0 : lo[size_t(r)], b = rows_are_own_ ? n : lo[size_t(r + 1)];
  {
    Span s(timeline_, "dispatch start", "communication");
    exchange_.dispatch_begin(x + a * H, b - a, ids.data() + a * K, K);
  }
  {
    Span s(timeline_, "shared expert (rows in flight)", "compute");
    if (n > 0 && !w.shared_experts.empty()) mlp_forward(out, x, n, w.shared_experts);
    else std::memset(out, 0, size_t(n * H) * sizeof(float));
  }
  {
    Span s(timeline_, "dispatch wait", "wait");
    exchange_.dispatch_end();
  }
  // Local experts in ascending id, each over its received rows in arrival (= token) order.
  const int64_t P = exchange_.pairs();
  std::vector<float> y(size_t(P * H));
  {
    Span s(timeline_, "routed experts", "compute");
    run_local_experts(y.data(), w);
  }
  {
    Span s(timeline_, "combine", "communication");
    exchange_.combine(y.data(), weights.data() + a * K, out + a * H);
  }
  // Every rank needs every row for the next (replicated) attention.
  if (!rows_are_own_) {
    Span s(timeline_, "all-gather", "communication");
    std::vector<int64_t> counts(static_cast<size_t>(N));
    for (int64_t q = 0; q < N; ++q) counts[size_t(q)] = (lo[size_t(q + 1)] - lo[size_t(q)]) * H;
    const std::vector<float> mine(out + a * H, out + b * H);
    gather_bytes_ += (b - a) * H * 4 * (N - 1);
    comm_.all_gather(mine.data(), out, counts, Elem::F32);
  }
  if (timeline_) last_end_us_ = timeline_->now_us();
}

// y [pairs, H]: each received (row, local expert) pair's output.
void ExpertParallelMoe::run_local_experts(float* y, const MoeWeights& w) const {
  const int64_t H = H_, P = exchange_.pairs();
  std::vector<std::vector<int64_t>> by_expert(size_t(place_.per_rank()));
  for (int64_t q = 0; q < P; ++q)
    by_expert[size_t(exchange_.pair_expert()[size_t(q)] - place_.first_local())].push_back(q);
  std::vector<float> xe, ye;
  for (int64_t le = 0; le < place_.per_rank(); ++le) {
    const auto& pairs = by_expert[size_t(le)];
    const int64_t m = int64_t(pairs.size());
    if (m == 0) continue;
    xe.resize(size_t(m * H));
    ye.resize(size_t(m * H));
    for (int64_t j = 0; j < m; ++j)
      std::memcpy(&xe[size_t(j * H)], exchange_.received_x() + exchange_.pair_row()[size_t(pairs[size_t(j)])] * H,
                  size_t(H) * 4);
    mlp_forward(ye.data(), xe.data(), m, w.experts[size_t(place_.first_local() + le)]);
    for (int64_t j = 0; j < m; ++j) std::memcpy(&y[size_t(pairs[size_t(j)] * H)], &ye[size_t(j * H)], size_t(H) * 4);
  }
}

namespace {

// Bytes of [p, p + n) present in this process's page tables.
int64_t resident_bytes(const void* p, size_t n, int fd) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t first = uintptr_t(p) / page, last = (uintptr_t(p) + n + page - 1) / page;
  std::vector<uint64_t> entries(size_t(last - first));
  const ssize_t got = pread(fd, entries.data(), entries.size() * 8, off_t(first * 8));
  if (got != ssize_t(entries.size() * 8)) fail("cannot read /proc/self/pagemap");
  int64_t present = 0;
  for (uint64_t e : entries) present += (e >> 63) & 1;
  return present * int64_t(page);
}

}  // namespace

ExpertResidency expert_residency(const ModelWeights& w, const ExpertPlacement& place) {
  const int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open /proc/self/pagemap");
  ExpertResidency r;
  auto count = [&](const LayerWeights& l) {
    if (!l.is_moe) return;
    for (size_t e = 0; e < l.moe.experts.size(); ++e) {
      const bool own = place.owner(int64_t(e)) == place.rank;
      for (const Weight* m : {&l.moe.experts[e].gate_proj, &l.moe.experts[e].up_proj, &l.moe.experts[e].down_proj}) {
        (own ? r.own_bytes : r.other_bytes) += int64_t(m->bytes());
        (own ? r.own_resident : r.other_resident) += resident_bytes(m->row_ptr(0), m->bytes(), fd);
        ++r.tensors;
      }
    }
  };
  for (const auto& l : w.layers) count(l);
  for (const auto& m : w.mtp) count(m.block);
  close(fd);
  return r;
}

int64_t keep_other_experts_unmapped(const ModelWeights& w, const ExpertPlacement& place) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;  // page-aligned inward: never a shared page
  auto collect = [&](const LayerWeights& l) {
    if (!l.is_moe) return;
    for (size_t e = 0; e < l.moe.experts.size(); ++e) {
      if (place.owner(int64_t(e)) == place.rank) continue;
      for (const Weight* m : {&l.moe.experts[e].gate_proj, &l.moe.experts[e].up_proj, &l.moe.experts[e].down_proj}) {
        const uintptr_t a = (uintptr_t(m->row_ptr(0)) + page - 1) / page * page;
        const uintptr_t b = (uintptr_t(m->row_ptr(0)) + m->bytes()) / page * page;
        if (b > a) ranges.push_back({a, b});
      }
    }
  };
  for (const auto& l : w.layers) collect(l);
  for (const auto& m : w.mtp) collect(m.block);
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uintptr_t, uintptr_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  // Each range may split a mapping in two; stay well inside the kernel's limit on mappings.
  if (merged.size() > 20000) return 0;
  for (const auto& [a, b] : merged) madvise(reinterpret_cast<void*>(a), b - a, MADV_RANDOM);
  return int64_t(merged.size());
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
