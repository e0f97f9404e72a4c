// Checks a schedule and runs it as an event simulation — no model, no MPI. Compute chunks take
// fixed costs; a communication batch is posted when its rank reaches it and completes when every
// peer has posted the matching operation (rendezvous, as NCCL's batched send/recv), so a
// schedule whose ranks wait on each other in a cycle is reported as a deadlock, not hung on.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "pipeline/schedule.h"

namespace dsv3::pipeline {

// Times of one chunk of work on one stage (any unit; the report's Table 2 notation).
struct Costs {
  double f = 1;    // forward chunk
  double b = 2;    // full backward chunk (input and weight gradients)
  double w = 1;    // weight-gradient part of b; the input-gradient part costs b - w
  double fb = 3;   // F&B: a forward and a full backward chunk overlapped with each other
  double p2p = 0;  // one batch of point-to-point transfers
};

// The time of each compute operation, where stages differ (the head's stage, the MoE layers'
// all-to-all).
using OpCost = std::function<double(const Op&)>;

struct Span {
  int op = 0;  // index into the rank's operation list
  double start = 0, end = 0;
};

struct Timeline {
  std::vector<std::vector<Span>> spans;  // [rank] -> one span per operation (comm batches too)
  std::vector<double> busy;              // [rank] compute time (comm excluded)
  std::vector<double> finish;            // [rank] end of its last operation
  double makespan = 0;

  // The idle time of a rank within the step: makespan - busy.
  double bubble(int rank) const { return makespan - busy[size_t(rank)]; }
};

// Throws Error with one line naming the rank, the operation and what is wrong: a chunk missing or
// run twice, on the wrong rank, F/B/W out of order, a value used before it was computed or
// received, sends and receives between two ranks that do not pair up in order, or a deadlock.
// rendezvous: a batch also waits until its sends are received (NCCL's batch_isend_irecv followed
// by waiting on every request, as dualpipe.py does) — the stricter semantics, for the deadlock
// check. Otherwise sends are posted without waiting (isend) and only receives wait — for timing.
Timeline simulate(const Schedule& s, const Costs& c, bool rendezvous = false);
Timeline simulate(const Schedule& s, const OpCost& cost, double p2p, bool rendezvous = false);

// Structural checks only (completeness, placement, pairing of messages); simulate() calls it.
void check_schedule(const Schedule& s);

double op_cost(const Op& op, const Costs& c);

// Peak number of stage activations a rank holds at once: a chunk's activations are held from
// its F until its weight gradient is done (W, or the end of a full backward).
std::vector<int> peak_activations(const Schedule& s);

// Stages whose parameters a rank holds, per rank (2 for DualPipe and DualPipeV).
int modules_per_rank(const Schedule& s);

}  // namespace dsv3::pipeline
