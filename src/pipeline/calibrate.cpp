#include "pipeline/calibrate.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>

#include "core/error.h"

namespace dsv3::pipeline {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// What identifies a chunk's cost: its kind, its chunk's direction and stage, and for F&B the
// backward chunk's as well; the micro-batch only when each chunk keeps its own time.
using CostKey = std::array<int, 7>;

CostKey cost_key(OpKind kind, const Chunk& a, const Chunk& b, bool each_chunk) {
  const bool pair = kind == OpKind::kFB;
  return {int(kind), a.dir, a.stage, pair ? b.dir : 0, pair ? b.stage : 0, each_chunk ? a.mb : 0,
          pair && each_chunk ? b.mb : 0};
}

}  // namespace

OpCost calibrate_stage_costs(const Trace& t, bool each_chunk) {
  std::map<CostKey, std::pair<double, int>> sums;  // key -> (seconds, count)
  for (const TraceOp& op : t.ops) {
    auto& [sum, n] = sums[cost_key(op.kind, op.a, op.b, each_chunk)];
    sum += (op.end - op.start) / 1e6;
    ++n;
  }
  auto mean = std::make_shared<std::map<CostKey, double>>();
  for (const auto& [key, s] : sums) (*mean)[key] = s.first / s.second;
  const Costs fallback = calibrate_costs(t);
  return [mean, fallback, each_chunk](const Op& op) {
    const auto it = mean->find(cost_key(op.kind, op.a, op.b, each_chunk));
    return it != mean->end() ? it->second : op_cost(op, fallback);
  };
}

Costs calibrate_costs(const Trace& t) {
  std::vector<double> f, b, w, bw, fb;
  for (const TraceOp& op : t.ops) {
    const double d = (op.end - op.start) / 1e6;  // seconds, as the simulator's costs
    switch (op.kind) {
      case OpKind::kF: f.push_back(d); break;
      case OpKind::kB: b.push_back(d); break;
      case OpKind::kW: w.push_back(d); break;
      case OpKind::kBW: bw.push_back(d); break;
      case OpKind::kFB: fb.push_back(d); break;
      case OpKind::kComm: break;
    }
  }
  if (f.empty()) fail("calibration needs forward chunks in the trace");
  Costs c;
  c.f = median(f);
  c.w = w.empty() ? c.f : median(w);
  c.b = !bw.empty() ? median(bw) : !b.empty() ? median(b) + c.w : 2 * c.f;
  c.w = std::min(c.w, c.b);
  c.fb = fb.empty() ? c.f + c.b : median(fb);
  return c;
}

BubbleCheck check_bubble(const Trace& t) {
  if (t.schedule.empty() || t.micro_batches < 1)
    fail("the trace does not name its schedule and micro-batch count (otherData.schedule, otherData.micro_batches)");
  BubbleCheck bc;
  bc.costs = calibrate_costs(t);
  const Schedule s = make_schedule(parse_schedule_kind(t.schedule), t.ranks, t.micro_batches, t.forward_only);
  const Timeline tl = simulate(s, bc.costs);
  const Timeline staged = simulate(s, calibrate_stage_costs(t), 0);
  const Timeline replay = simulate(s, calibrate_stage_costs(t, true), 0);
  for (int r = 0; r < t.ranks; ++r) {
    bc.measured.push_back(t.bubble_fraction(r));
    bc.simulated.push_back(tl.bubble(r) / tl.makespan);
    bc.simulated_per_stage.push_back(staged.bubble(r) / staged.makespan);
    bc.measured_mean += bc.measured.back() / t.ranks;
    bc.simulated_mean += bc.simulated.back() / t.ranks;
    bc.replayed.push_back(replay.bubble(r) / replay.makespan);
    bc.per_stage_mean += bc.simulated_per_stage.back() / t.ranks;
    bc.replayed_mean += bc.replayed.back() / t.ranks;
  }
  return bc;
}

}  // namespace dsv3::pipeline
