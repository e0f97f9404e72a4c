// Checking the simulator against a measured run: chunk costs calibrated from a trace (the median
// duration of each kind of operation), the schedule re-simulated with them, and the simulated
// bubble fraction set beside the measured one.
#pragma once
#include <vector>

#include "pipeline/simulate.h"
#include "pipeline/trace.h"

namespace dsv3::pipeline {

// F, B (full backward: a BW, or a B plus a W), W and F&B from the trace's operations; a kind the
// trace lacks falls back on Table 2's relations (B = 2F, W = F, F&B = F + B).
Costs calibrate_costs(const Trace& t);

// Per-stage calibration: each kind of chunk on each stage (a pair's two stages for F&B) costs the
// mean of its measured times. Stages differ (the dense first layer, the head and the MTP module),
// and the mean keeps every rank's simulated busy time equal to its measured one, so the
// simulated bubble differs from the measured one only by how the schedule's dependencies
// place the chunks. A chunk the trace lacks costs what calibrate_costs gives.
// each_chunk: every chunk takes its own measured time (a replay, not a model): what is left
// between its bubble and the measured one is time outside the chunks (transfers, the executor).
OpCost calibrate_stage_costs(const Trace& t, bool each_chunk = false);

struct BubbleCheck {
  Costs costs;
  // bubble fraction per rank: measured; simulated with one cost per kind, per stage; replayed
  std::vector<double> measured, simulated, simulated_per_stage, replayed;
  double measured_mean = 0, simulated_mean = 0, per_stage_mean = 0, replayed_mean = 0;
};

// Needs the trace to name its schedule and micro-batch count (otherData); throws Error if not.
BubbleCheck check_bubble(const Trace& t);

}  // namespace dsv3::pipeline
