#include "train/moe_parallel.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "kernels/ops.h"

namespace dsv3 {

// One micro-batch's forward records of one layer, kept for its backward.
struct ExpertParallelTraining::Acts {
  MoeActs local;                   // routing and shared expert of this rank's rows
  std::vector<float> pair_gate;    // [pairs] the gate of each received pair
  std::vector<ExpertActs> groups;  // [sources × local experts]; slots are pair indices
};

namespace {

thread_local int t_micro_batch = 0;  // set_micro_batch

// One source rank's weight-gradient terms of a layer's local experts, one per micro-batch,
// added in micro-batch order: straight away while they come in order from micro-batch 0, else
// kept until the step's end.
struct SourceSum {
  PairwiseSum sum;
  std::map<int, std::vector<float>> waiting;
  int next = 0;
  explicit SourceSum(int64_t n) : sum(n) {}
  void add(int m, std::vector<float> term) {
    waiting[m] = std::move(term);
    while (!waiting.empty() && waiting.begin()->first == next) {
      sum.add(std::move(waiting.begin()->second));
      waiting.erase(waiting.begin());
      ++next;
    }
  }
  std::vector<float> take() {
    for (auto& [m, t] : waiting) sum.add(std::move(t));
    waiting.clear();
    next = 0;
    return sum.take();
  }
};

}  // namespace

struct ExpertParallelTraining::Layer {
  // The local experts' weight gradients: their (offset, size) in the flat buffer, and per
  // source rank the sum over micro-batches of a buffer spanning [lo, hi).
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int64_t lo = -1, hi = -1;
  std::vector<SourceSum> sums;
};

ExpertParallelTraining::ExpertParallelTraining(dist::Communicator& g, const ModelConfig& cfg, Precision p)
    : comm_(g), place_(dist::place_experts(cfg.n_routed_experts, g)), H_(cfg.hidden_size), precision_(p),
      exchange_(g, place_, cfg.hidden_size), back_(g, place_, cfg.hidden_size) {}

void ExpertParallelTraining::set_micro_batch(int m) { t_micro_batch = m; }

void ExpertParallelTraining::yield_then(const std::function<void()>& wait) {
  if (yield_) yield_();
  const auto t0 = std::chrono::steady_clock::now();
  wait();
  exposed_wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ExpertParallelTraining::~ExpertParallelTraining() = default;

ExpertParallelTraining::Layer& ExpertParallelTraining::layer(const MoeWeights& w) {
  auto& slot = layers_[w.gate.data];
  if (!slot) slot = std::make_unique<Layer>();
  return *slot;
}

ExpertParallelTraining::Acts& ExpertParallelTraining::acts(const MoeWeights& w, bool create) {
  auto& slot = acts_[{w.gate.data, t_micro_batch}];
  if (!slot) {
    if (!create) fail("expert-parallel training: a backward of micro-batch ", t_micro_batch, " without its forward");
    slot = std::make_unique<Acts>();
  }
  return *slot;
}

const MoeActs& ExpertParallelTraining::routing(const MoeWeights& w) const {
  auto it = acts_.find({w.gate.data, t_micro_batch});
  if (it == acts_.end()) fail("expert-parallel training: no forward of this MoE layer to take the routing from");
  return it->second->local;
}

void ExpertParallelTraining::forward(float* out, const float* x, int64_t n, const MoeWeights& w,
                                     const RouterParams& rp, ExpertLoad* load) {
  const int64_t H = H_, E = rp.n_experts, K = rp.top_k;
  Acts& L = acts(w, true);
  moe_route(L.local, x, n, w, rp, precision_);
  if (load) {
    load->tokens_per_expert.assign(size_t(E), 0);
    for (int32_t e : L.local.ids) ++load->tokens_per_expert[size_t(e)];
  }
  using clock = std::chrono::steady_clock;
  const int kind = probe_ && steps_ % 2 == 1 ? 1 : 0;  // OverlapTimes
  auto t = clock::now();
  double exposed = 0;
  auto lap = [&t] {
    const auto now = clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  };
  auto wait_for_rows = [&] {
    yield_then([&] { exchange_.dispatch_end(); });
    exposed += lap();
  };
  exchange_.dispatch_begin(x, n, L.local.ids.data(), K);
  exposed += lap();
  if (kind == 1) wait_for_rows();
  if (!w.shared_experts.empty()) mlp_forward(out, x, n, w.shared_experts, precision_, &L.local.shared);
  else std::memset(out, 0, size_t(n * H) * sizeof(float));
  lap();  // computing: not exposed
  if (kind == 0) wait_for_rows();
  if (probe_) {
    times_.exposed_s[kind] += exposed;
    ++times_.calls[kind];
  }
  L.pair_gate.resize(size_t(exchange_.pairs()));
  exchange_.pair_values_to_owners(L.local.gates.data(), L.pair_gate.data());
  run_local_experts(L, w);
  std::vector<float> y(size_t(exchange_.pairs() * H));
  for (const ExpertActs& ex : L.groups)
    for (size_t j = 0; j < ex.slots.size(); ++j)
      std::memcpy(&y[size_t(ex.slots[j] * H)], &ex.y[j * size_t(H)], size_t(H) * sizeof(float));
  exchange_.combine_begin(y.data());
  yield_then([&] { exchange_.combine_end(L.local.gates.data(), out); });
}

// Each local expert once per source rank, over that source's rows in their order: the calls a
// single process makes for that source's micro-batch.
void ExpertParallelTraining::run_local_experts(Acts& L, const MoeWeights& w) {
  const int64_t H = H_, local = place_.per_rank(), S = comm_.size();
  L.groups.assign(size_t(S * local), {});
  const auto& row = exchange_.pair_row();
  const auto& expert = exchange_.pair_expert();
  const auto& src = exchange_.received_source();
  for (int64_t q = 0; q < exchange_.pairs(); ++q) {
    const int64_t r = row[size_t(q)];
    L.groups[size_t(src[size_t(r)] * local + (expert[size_t(q)] - place_.first_local()))].slots.push_back(q);
  }
  for (int64_t gi = 0; gi < S * local; ++gi) {
    ExpertActs& ex = L.groups[size_t(gi)];
    const int64_t m = int64_t(ex.slots.size());
    if (m == 0) continue;
    ex.x.resize(size_t(m * H));
    ex.y.resize(size_t(m * H));
    for (int64_t j = 0; j < m; ++j)
      std::memcpy(&ex.x[size_t(j * H)], exchange_.received_x() + row[size_t(ex.slots[size_t(j)])] * H,
                  size_t(H) * sizeof(float));
    const MlpWeights& ew = w.experts[size_t(place_.first_local() + gi % local)];
    mlp_forward(ex.y.data(), ex.x.data(), m, ew, precision_, &ex.mlp);
  }
}

void ExpertParallelTraining::backward(float* dx, const float* dout, const float* x, const Rows& rows,
                                      const MoeWeights& w, const RouterParams& rp, float balance_coef,
                                      const MoeBalance& bal, const GradSink& g) {
  const int64_t n = rows.n(), H = H_, K = rp.top_k;
  Acts& L = acts(w, false);
  if (!w.shared_experts.empty()) mlp_backward(dx, dout, x, n, w.shared_experts, precision_, L.local.shared, g);
  else std::memset(dx, 0, size_t(n * H) * sizeof(float));
  // dL/d(out) goes to the owners along the forward's routes (the same pairs, in the same order).
  back_.dispatch_begin(dout, n, L.local.ids.data(), K);
  yield_then([&] { back_.dispatch_end(); });
  const int64_t P = back_.pairs();
  std::vector<float> dgate_pair(static_cast<size_t>(P)), dx_pairs(static_cast<size_t>(P * H));
  local_expert_backward(layer(w), L, w, back_.received_x(), dgate_pair.data(), dx_pairs.data(), g);
  const std::vector<float> ones(size_t(n * K), 1.0f);
  back_.combine_begin(dx_pairs.data());
  yield_then([&] { back_.combine_end(ones.data(), dx); });  // dx += in ascending expert id, as one process
  std::vector<float> dgates(size_t(n * K), 0.0f);
  back_.pair_values_to_senders(dgate_pair.data(), dgates.data());
  moe_router_backward(dx, dgates.data(), x, rows, w, rp, precision_, balance_coef, L.local, bal, g);
  acts_.erase({w.gate.data, t_micro_batch});
}

void ExpertParallelTraining::local_expert_backward(Layer& L, const Acts& A, const MoeWeights& w,
                                                   const float* dout_rows, float* dgate_pair, float* dx_pairs,
                                                   const GradSink& g) {
  const int64_t H = H_, local = place_.per_rank(), S = comm_.size();
  const auto& row = back_.pair_row();
  if (L.lo < 0) {  // where the local experts' gradients live in the flat buffer
    for (int64_t e = place_.first_local(); e < place_.first_local() + local; ++e)
      for (const Weight* wt : {&w.experts[size_t(e)].gate_proj, &w.experts[size_t(e)].up_proj, &w.experts[size_t(e)].down_proj})
        L.ranges.push_back({g.of(*wt) - g.grad, wt->rows * wt->cols});
    L.lo = L.ranges.front().first, L.hi = 0;
    for (const auto& [off, size] : L.ranges) L.lo = std::min(L.lo, off), L.hi = std::max(L.hi, off + size);
    L.sums.assign(size_t(S), SourceSum(L.hi - L.lo));
  }
  for (int64_t s = 0; s < S; ++s) {
    std::vector<float> term = L.sums[size_t(s)].sum.fresh();
    const GradSink sink{g.base + L.lo, term.data()};
    for (int64_t e = 0; e < local; ++e) {
      const ExpertActs& ex = A.groups[size_t(s * local + e)];
      const int64_t m = int64_t(ex.slots.size());
      if (m == 0) continue;
      // As moe_backward: dy = g · dout for each routed copy; dg = dout · y.
      std::vector<float> dy(size_t(m * H)), dxe(size_t(m * H));
      for (int64_t j = 0; j < m; ++j) {
        const int64_t q = ex.slots[size_t(j)];
        const float* d = dout_rows + row[size_t(q)] * H;
        dgate_pair[q] = dot(d, &ex.y[size_t(j * H)], H);
        for (int64_t c = 0; c < H; ++c) dy[size_t(j * H + c)] = A.pair_gate[size_t(q)] * d[c];
      }
      mlp_backward(dxe.data(), dy.data(), ex.x.data(), m, w.experts[size_t(place_.first_local() + e)], precision_,
                   ex.mlp, sink);
      for (int64_t j = 0; j < m; ++j)
        std::memcpy(dx_pairs + ex.slots[size_t(j)] * H, &dxe[size_t(j * H)], size_t(H) * sizeof(float));
    }
    L.sums[size_t(s)].add(t_micro_batch, std::move(term));
  }
}

void ExpertParallelTraining::finish_step(float* grads) {
  ++steps_;
  for (auto& [key, lp] : layers_) {
    Layer& L = *lp;
    if (L.lo < 0) continue;
    PairwiseSum over_sources(L.hi - L.lo);
    for (SourceSum& s : L.sums) over_sources.add(s.take());
    const std::vector<float> total = over_sources.take();
    for (const auto& [off, size] : L.ranges)
      std::copy_n(total.data() + (off - L.lo), size, grads + off);
  }
}

}  // namespace dsv3
