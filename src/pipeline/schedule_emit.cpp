#include "pipeline/schedule_emit.h"

#include "core/error.h"

namespace dsv3::pipeline {

RankEmitter::RankEmitter(const Schedule& s, int rank, std::vector<Chunk> modules)
    : s_(s), rank_(rank), modules_(std::move(modules)), n_(modules_.size()) {}

int RankEmitter::peer(int m, int stage_step) const {
  const int r = s_.rank_of(modules_[m].dir, modules_[m].stage + stage_step);
  return r == rank_ ? -1 : r;  // DualPipeV's turn at the last rank stays on the rank
}

void RankEmitter::recv_forward(int m) {
  if (first_stage(m)) return;
  const int mb = n_[m].recv_f++;
  if (const int p = peer(m, -1); p >= 0) {
    Chunk of = chunk(m, mb);
    of.stage -= 1;
    pending_.push_back({false, p, Value::kAct, of});
  }
}

void RankEmitter::send_forward(int m) {
  if (last_stage(m)) return;
  const int mb = n_[m].send_f++;
  if (const int p = peer(m, +1); p >= 0) pending_.push_back({true, p, Value::kAct, chunk(m, mb)});
}

void RankEmitter::recv_backward(int m) {
  if (s_.forward_only || last_stage(m)) return;
  const int mb = n_[m].recv_b++;
  if (const int p = peer(m, +1); p >= 0) {
    Chunk of = chunk(m, mb);
    of.stage += 1;
    pending_.push_back({false, p, Value::kGrad, of});
  }
}

void RankEmitter::send_backward(int m) {
  if (s_.forward_only || first_stage(m)) return;
  const int mb = n_[m].send_b++;
  if (const int p = peer(m, -1); p >= 0) pending_.push_back({true, p, Value::kGrad, chunk(m, mb)});
}

void RankEmitter::commit() {
  if (pending_.empty()) return;
  Op op;
  op.kind = OpKind::kComm;
  op.comm = std::move(pending_);
  pending_.clear();
  ops_.push_back(std::move(op));
}

void RankEmitter::forward_compute(int m) { ops_.push_back({OpKind::kF, chunk(m, n_[m].f++), {}, {}}); }

void RankEmitter::backward_compute(int m, bool split_w) {
  if (s_.forward_only) return;
  const Chunk c = chunk(m, n_[m].b++);
  ops_.push_back({split_w ? OpKind::kB : OpKind::kBW, c, {}, {}});
  if (split_w) deferred_w_.push_back(c);
}

void RankEmitter::forward_backward_compute(int m0, int m1) {
  if (s_.forward_only) return forward_compute(m0);
  const Chunk f = chunk(m0, n_[m0].f++);
  const Chunk b = chunk(m1, n_[m1].b++);
  ops_.push_back({OpKind::kFB, f, b, {}});
}

void RankEmitter::forward_chunk(int m, bool recv, bool send) {
  if (recv) recv_forward(m);
  commit();
  forward_compute(m);
  if (send) send_forward(m);
}

void RankEmitter::backward_chunk(int m, bool split_w, bool recv, bool send) {
  if (recv) recv_backward(m);
  commit();
  backward_compute(m, split_w);
  if (send) send_backward(m);
}

void RankEmitter::forward_backward_chunk(int m0, int m1, bool recv0) {
  if (recv0) recv_forward(m0);
  recv_backward(m1);
  commit();
  forward_backward_compute(m0, m1);
  send_forward(m0);
  send_backward(m1);
}

void RankEmitter::weight_chunk(bool wait_comm) {
  if (s_.forward_only) return;
  if (wait_comm) commit();
  if (deferred_w_.empty()) fail("schedule generator: rank ", rank_, " runs a W chunk with no deferred weight gradient");
  ops_.push_back({OpKind::kW, deferred_w_.front(), {}, {}});
  deferred_w_.pop_front();
}

std::vector<Op> RankEmitter::finish() {
  commit();
  if (!deferred_w_.empty()) fail("schedule generator: rank ", rank_, " ends with ", deferred_w_.size(), " weight gradients not run");
  return std::move(ops_);
}

}  // namespace dsv3::pipeline
