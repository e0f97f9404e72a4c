// Builds one rank's operation list the way DeepSeek's dualpipe.py runs a step: receives and
// sends are queued and posted as one batch just before the next compute chunk (or weight chunk,
// or the end), so a chunk's sends travel with the next chunk's receives. Each "module" is one
// stage this rank holds (two for DualPipe/DualPipeV); per module, F, B, sends and receives each
// go through micro-batches in order, and weight-gradient chunks (W) are popped first-in
// first-out from the backward chunks that deferred them.
#pragma once
#include <deque>
#include <vector>

#include "pipeline/schedule.h"

namespace dsv3::pipeline {

class RankEmitter {
 public:
  // modules: the (direction, stage) of each module this rank holds.
  RankEmitter(const Schedule& s, int rank, std::vector<Chunk> modules);

  void recv_forward(int m);
  void send_forward(int m);
  void recv_backward(int m);
  void send_backward(int m);
  void commit();  // posts the queued sends/receives as one batch (nothing when none are queued)

  void forward_compute(int m);
  void backward_compute(int m, bool split_w);  // split_w: B now, W later (queued); else BW
  void forward_backward_compute(int m0, int m1);  // overlapped F of m0 and full backward of m1

  // The chunk-level steps of dualpipe.py: receive, wait, compute, queue the send.
  void forward_chunk(int m, bool recv = true, bool send = true);
  void backward_chunk(int m, bool split_w = false, bool recv = true, bool send = true);
  void forward_backward_chunk(int m0, int m1, bool recv0 = true);
  // wait_comm: post and wait for the queued messages first, as dualpipe.py does; without it the
  // queued sends stay queued and go with the next chunk's receives.
  void weight_chunk(bool wait_comm = true);

  std::vector<Op> finish();  // posts what is still queued; every deferred W must have run

 private:
  struct Counters {
    int f = 0, b = 0, send_f = 0, send_b = 0, recv_f = 0, recv_b = 0;
  };
  bool first_stage(int m) const { return modules_[m].stage == 0; }
  bool last_stage(int m) const { return modules_[m].stage == s_.stages - 1; }
  int peer(int m, int stage_step) const;  // rank of the neighbouring stage, -1 when local
  Chunk chunk(int m, int mb) const { return {modules_[m].dir, mb, modules_[m].stage}; }

  const Schedule& s_;
  int rank_;
  std::vector<Chunk> modules_;
  std::vector<Counters> n_;
  std::vector<Message> pending_;
  std::deque<Chunk> deferred_w_;
  std::vector<Op> ops_;
};

}  // namespace dsv3::pipeline
