// Pipeline schedules as data: for every rank, the ordered list of operations it runs in one
// training step — forward (F), input-gradient backward (B), weight-gradient backward (W), full
// backward (BW = B then W), an overlapped forward+backward pair (FB, DualPipe's F&B), and
// batches of point-to-point sends/receives that are posted together and waited on together
// (batch_isend_irecv in DeepSeek's dualpipe.py). One executor (or the simulator in simulate.h)
// runs any of them, so schedules can be printed, checked and compared without the model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dsv3::pipeline {

enum class ScheduleKind { k1F1B, kZB1P, kDualPipe, kDualPipeV };

ScheduleKind parse_schedule_kind(const std::string& name);  // "1f1b" | "zb1p" | "dualpipe" | "dualpipev"
const char* schedule_name(ScheduleKind k);

// One micro-batch passing through one stage. dir 0: micro-batches that enter at rank 0; dir 1:
// DualPipe's reverse direction, entering at the last rank. stage: position along the
// micro-batch's own path (0 = the stage holding the embedding).
struct Chunk {
  int dir = 0;
  int mb = 0;
  int stage = 0;
  bool operator==(const Chunk&) const = default;
};

// A value that crosses ranks: the activation a stage's F produces (kAct, sent to stage+1), or
// the input gradient a stage's B produces (kGrad, sent to stage-1).
enum class Value { kAct, kGrad };

struct Message {
  bool send = false;
  int peer = 0;
  Value value = Value::kAct;
  Chunk of;  // the producing chunk: Act of (d, m, s) goes to stage s+1, Grad of (d, m, s) to s-1
};

enum class OpKind { kF, kB, kW, kBW, kFB, kComm };

struct Op {
  OpKind kind = OpKind::kF;
  Chunk a;                    // F, B, W, BW: the chunk; FB: the forward chunk
  Chunk b;                    // FB only: the backward chunk (a full backward, as in dualpipe.py)
  std::vector<Message> comm;  // kComm only
};

struct Schedule {
  ScheduleKind kind = ScheduleKind::k1F1B;
  int ranks = 0;          // pipeline ranks P
  int stages = 0;         // stages along one micro-batch's path (P, or 2P for DualPipeV)
  int dirs = 1;           // 2 for DualPipe
  int micro_batches = 0;  // per step, both directions together
  bool forward_only = false;  // inference: the same schedule with every backward and W left out
  std::vector<std::vector<Op>> ops;  // [rank] -> operations in order

  int micro_batches_per_dir() const { return micro_batches / dirs; }
  int rank_of(int dir, int stage) const;  // which rank holds a stage for a direction
};

// Each generator throws Error with one line when P or the micro-batch count does not fit.
// 1F1B and ZB1P (B and W split): M >= 1. DualPipe: even P, even M >= 2P (M/2 per direction).
// DualPipeV: 2P stages on P ranks (rank r holds stages r and 2P-1-r), M >= 2P.
// forward_only: what each schedule runs without gradients, as dualpipe.py does under no_grad
// (micro-batches streamed through the stages, for pipeline-parallel inference).
Schedule make_schedule(ScheduleKind kind, int ranks, int micro_batches, bool forward_only = false);

// One line per op, e.g. "F0.3@s1" (forward, direction 0, micro-batch 3, stage 1) — for printing
// and for tests that compare against hand-written sequences.
std::string op_label(const Op& op);
std::string schedule_text(const Schedule& s, bool with_comm);

}  // namespace dsv3::pipeline
