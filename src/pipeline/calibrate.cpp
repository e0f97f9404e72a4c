#include "pipeline/calibrate.h"

#include <algorithm>

#include "core/error.h"

namespace dsv3::pipeline {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

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
  for (int r = 0; r < t.ranks; ++r) {
    bc.measured.push_back(t.bubble_fraction(r));
    bc.simulated.push_back(tl.bubble(r) / tl.makespan);
    bc.measured_mean += bc.measured.back() / t.ranks;
    bc.simulated_mean += bc.simulated.back() / t.ranks;
  }
  return bc;
}

}  // namespace dsv3::pipeline
