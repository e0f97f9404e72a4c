// Schedule traces in Chrome's trace-event JSON ({"traceEvents": [...]}, viewable in Perfetto or
// chrome://tracing): one complete event ("ph": "X", times in microseconds) per operation, the
// process id is the pipeline rank, thread 0 its computation and thread 1 its communication
// batches. Compute events carry args {"kind": F|B|W|BW|FB, "dir", "mb", "stage"} (and for FB the
// backward chunk's "b_dir", "b_mb", "b_stage"), which is all `dsv3 plot` needs; the simulator
// writes them here and a measured run writes the same. "otherData": {"schedule", "micro_batches"}
// name the schedule, so a trace can be re-simulated with costs calibrated from it.
#pragma once
#include <string>
#include <vector>

#include "io/json_file.h"
#include "pipeline/simulate.h"

namespace dsv3::pipeline {

std::string trace_json(const Schedule& s, const Timeline& t);

struct TraceOp {
  int rank = 0;
  OpKind kind = OpKind::kF;
  Chunk a, b;
  double start = 0, end = 0;  // microseconds
};

struct Trace {
  std::vector<TraceOp> ops;  // compute operations only, every rank (append with add())
  std::string schedule;      // otherData.schedule and .micro_batches when the writer gave them
  int micro_batches = 0;
  bool forward_only = false;
  int ranks = 0;
  double start = 0, end = 0;

  void add(const TraceOp& op);  // also extends ranks, start, end and the busy time
  double busy(int rank) const { return busy_[size_t(rank)]; }
  double bubble_fraction(int rank) const { return 1 - busy(rank) / (end - start); }

 private:
  std::vector<double> busy_;  // [rank] compute time
};

// The compute operations of a simulated step, as read_trace(trace_json(s, t)) would give them.
Trace make_trace(const Schedule& s, const Timeline& t);

// Reads the compute events of one or more trace files (merged); throws Error naming the file.
Trace read_trace(const json& j, const std::string& what);
Trace read_trace_files(const std::vector<std::string>& paths);

}  // namespace dsv3::pipeline
