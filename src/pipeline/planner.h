// The cluster planner behind `dsv3 plan`: for a model config, a cluster and parallel sizes, the
// memory per device, each schedule's bubble (simulated, next to the report's Table 2 formula),
// the all-to-all traffic of expert parallelism against the compute it hides under, and the
// resulting tokens/s and GPU-hours per trillion tokens. A model of the run, not a measurement:
// every input is printed with the output.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "pipeline/schedule.h"

namespace dsv3::pipeline {

struct Cluster {
  int devices = 2048;
  int devices_per_node = 8;
  double peak_tflops = 989;    // per device, dense BF16 (H800 / H100 SXM)
  double efficiency = 1.0;     // fraction of peak the chunk compute reaches
  double memory_gb = 80;
  double nvlink_gbs = 160;     // per device, intra-node
  double ib_gbs = 50;          // per device, inter-node
};

struct Parallel {
  int pp = 1, ep = 1, dp = 0;  // dp 0: devices / pp
  int micro_batches = 0;       // per step, per data-parallel replica (0: from global_batch)
  int64_t seq_len = 4096;
  int64_t micro_batch_seqs = 1;   // sequences per micro-batch
  int64_t global_batch = 0;       // sequences per step, all replicas (0: from micro_batches)
  ScheduleKind schedule = ScheduleKind::kDualPipe;
  std::string stage_layers;       // --stage-layers override for the chosen schedule
};

struct SchedulePlan {
  ScheduleKind kind;
  std::string error;             // why the schedule cannot run with these sizes (else empty)
  std::vector<int> stage_layers;
  double f = 0, b = 0, w = 0, fb = 0;  // seconds per chunk, of the slowest stage
  double bubble = 0;             // simulated idle time of the busiest rank, seconds
  double bubble_formula = 0;     // Table 2, seconds
  double step_seconds = 0;
  double tokens_per_second = 0;
  double gpu_hours_per_trillion = 0;
  int peak_chunks = 0;           // stage activations held at once, worst rank
};

struct DeviceMemory {
  double params = 0, grads = 0, optimizer = 0, activations = 0;  // bytes, worst rank
  double total() const { return params + grads + optimizer + activations; }
};

struct Plan {
  Cluster cluster;
  Parallel par;                   // with dp and micro_batches filled in
  int64_t total_params = 0;
  int64_t mtp_params = 0;         // of which MTP modules (embedding and head shared, not counted)
  double train_flops_per_token = 0;  // forward + backward, whole model
  double a2a_ib_bytes_per_token = 0;     // per MoE layer, forward (dispatch + combine)
  double a2a_nvlink_bytes_per_token = 0;
  double chunk_compute_seconds = 0;  // forward compute of one chunk, slowest stage
  double chunk_a2a_seconds = 0;      // forward all-to-all (IB) of one chunk, stage with most MoE layers
  DeviceMemory memory;            // for the chosen schedule
  std::vector<SchedulePlan> schedules;  // all four; the chosen one first
  std::string placement;          // which rank holds which layers, chosen schedule
};

Plan make_plan(const ModelConfig& c, const Cluster& cl, Parallel par);
std::string plan_text(const Plan& p);

}  // namespace dsv3::pipeline
