#include "pipeline/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <numeric>

#include "core/error.h"
#include "pipeline/fault.h"

namespace dsv3::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Unique per pair of ranks: between two ranks a value kind and direction names one stage.
int message_tag(const Message& m) { return (m.of.mb * 2 + int(m.value)) * 2 + m.of.dir; }

// The evaluation's activations (outside any step, so no step message is in flight).
constexpr int kEvalTag = 30002;

// Test hook: DSV3_PIPELINE_SUM_PIECE=N exchanges the shared gradients in pieces of N values
// (stage_params.h), so a tiny model's tensors take several pieces each.
int64_t sum_piece() {
  static const int64_t n = [] {
    const char* env = std::getenv("DSV3_PIPELINE_SUM_PIECE");
    return env ? std::max<int64_t>(1, std::atoll(env)) : StageParams::kSumPiece;
  }();
  return n;
}

}  // namespace

PipelineExecutor::PipelineExecutor(Schedule s, const std::vector<int>& stage_layers, dist::Communicator& comm,
                                   const ModelConfig& cfg, Precision p, StageParams& params,
                                   dist::Communicator* experts)
    : s_(std::move(s)), ranges_(stage_ranges(stage_layers)), comm_(comm), cfg_(cfg), model_(cfg_, p),
      params_(params), rank_(comm.rank()) {
  if (experts && experts->size() > 1) {
    ep_ = std::make_unique<ExpertParallelTraining>(*experts, cfg_, p);
    ep_->set_yield([this] { pair_.yield(); });
    model_.set_moe_runner(ep_.get());
  }
  if (s_.ranks != comm.size()) fail("pipeline: the schedule has ", s_.ranks, " ranks, the group ", comm.size());
  if (int(ranges_.size()) != s_.stages || ranges_.back().end != cfg.num_hidden_layers)
    fail("pipeline: ", ranges_.size(), " stage sizes for ", s_.stages, " stages of ", cfg.num_hidden_layers, " layers");
  for (const StageRange& r : ranges_)
    if (r.end <= r.first) fail("pipeline: a stage without a decoder layer");
  if (s_.forward_only) fail("pipeline: training needs a schedule with backward passes");
  chunks_per_mb_.assign(size_t(s_.micro_batches), 0);
  for (const Op& op : s_.ops[size_t(rank_)])
    if (op.kind == OpKind::kF || op.kind == OpKind::kFB) ++chunks_per_mb_[size_t(micro_batch(op.a))];
}

GradSink PipelineExecutor::sink(const Chunk& c) {
  std::vector<float>& g = mb_grads_[micro_batch(c)];
  if (g.empty()) g = in_.grads->fresh();
  return {in_.base, g.data()};
}

void PipelineExecutor::chunk_done(const Chunk& c) {
  const int m = micro_batch(c);
  if (--chunks_left_[size_t(m)] > 0) return;
  // Terms go into the sum in micro-batch order, whatever order the schedule finishes them in.
  while (next_mb_ < s_.micro_batches && chunks_left_[size_t(next_mb_)] == 0) {
    std::vector<float>& g = mb_grads_[next_mb_];
    in_.grads->add(g.empty() ? in_.grads->fresh() : std::move(g));
    mb_grads_.erase(next_mb_++);
  }
}

void PipelineExecutor::await_value(Value v, const Chunk& of) {
  const auto it = receiving_.find({int(v), of.dir, of.mb, of.stage});
  if (it == receiving_.end()) return;
  it->second->wait();
  receiving_.erase(it);
}

// What a compute operation reads from other ranks: the activation of its forward chunk's
// previous stage, the input gradient of its backward chunk's next stage (both for an F&B pair,
// as dualpipe.py waits before a pair).
void PipelineExecutor::await_inputs(const Op& op) {
  const bool f = op.kind == OpKind::kF || op.kind == OpKind::kFB;
  const bool b = op.kind == OpKind::kB || op.kind == OpKind::kBW || op.kind == OpKind::kFB;
  if (f && op.a.stage > 0) await_value(Value::kAct, {op.a.dir, op.a.mb, op.a.stage - 1});
  const Chunk& bc = op.kind == OpKind::kFB ? op.b : op.a;
  if (b && bc.stage < s_.stages - 1) await_value(Value::kGrad, {bc.dir, bc.mb, bc.stage + 1});
}

std::vector<float> PipelineExecutor::take(Value v, const Chunk& of) {
  await_value(v, of);
  auto it = values_.find({int(v), of.dir, of.mb, of.stage});
  if (it == values_.end())
    fail("pipeline rank ", rank_, ": ", v == Value::kAct ? "activation" : "gradient", " of ", of.dir, ".", of.mb, "@s",
         of.stage, " is not here (schedule and executor disagree)");
  std::vector<float> x = std::move(it->second);
  values_.erase(it);
  return x;
}

void PipelineExecutor::forward(const Chunk& c) {
  const TokenRows& b = (*in_.batches)[size_t(micro_batch(c))];
  if (ep_) ep_->set_micro_batch(micro_batch(c));
  const ModelWeights& w = *in_.w;
  const StageRange r = ranges_[size_t(c.stage)];
  ChunkState& st = chunks_[{c.dir, c.mb, c.stage}];
  MicroLosses& out = losses_[size_t(micro_batch(c))];
  std::vector<float> x;
  if (c.stage == 0) {
    x.resize(size_t(b.B * b.T * cfg_.hidden_size));
    model_.embed(x.data(), b, w);
  } else {
    x = take(Value::kAct, {c.dir, c.mb, c.stage - 1});
  }
  model_.layers_forward(x.data(), {b.B, b.T}, w, r.first, r.end, in_.balance_coef, st.acts, out);
  if (c.stage == s_.stages - 1) {
    const GradSink g = sink(c);  // the head's weight gradient is taken in its forward
    model_.head_forward(x.data(), b, w, *in_.obj, *in_.norm, &g, st.acts, out);
  } else {
    values_[{int(Value::kAct), c.dir, c.mb, c.stage}] = std::move(x);
  }
}

void PipelineExecutor::backward(const Chunk& c, bool split_w) {
  const TokenRows& b = (*in_.batches)[size_t(micro_batch(c))];
  if (ep_) ep_->set_micro_batch(micro_batch(c));
  const ModelWeights& w = *in_.w;
  const StageRange r = ranges_[size_t(c.stage)];
  const auto key = ChunkKey{c.dir, c.mb, c.stage};
  ChunkState& st = chunks_.at(key);
  GradSink g = sink(c);
  if (split_w) g.defer = &st.wgrad;
  std::vector<float> dx;
  if (c.stage == s_.stages - 1) {
    dx.resize(size_t(b.B * b.T * cfg_.hidden_size));
    model_.head_backward(dx.data(), w, in_.balance_coef, st.acts, g);
  } else {
    dx = take(Value::kGrad, {c.dir, c.mb, c.stage + 1});
  }
  model_.layers_backward(dx.data(), {b.B, b.T}, w, r.first, r.end, in_.balance_coef, st.acts, g);
  if (c.stage == 0)
    model_.embed_backward(b, w, dx.data(), g);
  else
    values_[{int(Value::kGrad), c.dir, c.mb, c.stage}] = std::move(dx);
  if (split_w) {
    st.acts = TrainActs{};  // W needs only what the queue copied
  } else {
    chunks_.erase(key);
    chunk_done(c);
  }
}

void PipelineExecutor::weight(const Chunk& c) {
  const auto it = chunks_.find({c.dir, c.mb, c.stage});
  if (it == chunks_.end()) fail("pipeline rank ", rank_, ": W of ", c.dir, ".", c.mb, "@s", c.stage, " before its B");
  it->second.wgrad.run();
  chunks_.erase(it);
  chunk_done(c);
}

// Posts every send and receive of the batch (dualpipe.py's batch_isend_irecv) and returns: the
// chunk that reads a received value waits for it (await_inputs), and sends complete by the end
// of the step, so no rank waits here for a peer. Deadlock-free whenever the schedule is with
// eager sends (simulate()), since every wait is for a value an earlier operation of the peer
// sends.
void PipelineExecutor::communicate(const std::vector<Message>& batch) {
  for (const Message& m : batch) {
    const ValueKey key{int(m.value), m.of.dir, m.of.mb, m.of.stage};
    const TokenRows& b = (*in_.batches)[size_t(micro_batch(m.of))];
    const int64_t count = b.B * b.T * cfg_.hidden_size;
    if (m.send) {
      const auto it = values_.find(key);
      if (it == values_.end()) fail("pipeline rank ", rank_, ": sends a value it does not hold");
      Sending out{nullptr, std::move(it->second)};
      values_.erase(it);
      out.req = comm_.send_start(out.data.data(), count, dist::Elem::F32, m.peer, message_tag(m));
      sending_.push_back(std::move(out));  // the vector's buffer moves with it, not its data
    } else {
      std::vector<float>& buf = values_[key];
      buf.resize(size_t(count));
      receiving_[key] = comm_.recv_start(buf.data(), count, dist::Elem::F32, m.peer, message_tag(m));
    }
  }
}

void PipelineExecutor::finish_sends() {
  for (Sending& s : sending_) s.req->wait();
  sending_.clear();
}

// After an error this rank's job ends (dist::report_error aborts it): waiting for transfers in
// flight would hang on peers that never answer, and MPI may still touch their buffers, so both
// are left alone until the process exits.
void PipelineExecutor::abandon_in_flight() {
  static auto* kept = new std::vector<std::vector<float>>();  // never freed, on purpose
  for (auto& [key, req] : receiving_) {
    (void)req.release();
    kept->push_back(std::move(values_[key]));
  }
  for (Sending& s : sending_) {
    (void)s.req.release();
    kept->push_back(std::move(s.data));
  }
  receiving_.clear();
  sending_.clear();
}

// F&B: without expert parallelism one after the other (a CPU rank has no second stream to
// overlap them on); with it, interleaved at the all-to-alls (interleave.h), forward first.
void PipelineExecutor::run_pair(const Op& op) {
  const bool interleave = ep_ && !(alternate_ && steps_ % 2 == 1);
  const double waited = ep_ ? ep_->exposed_wait_s() : 0;
  if (interleave) {
    pair_.run([&] { forward(op.a); }, [&] { backward(op.b, false); });
  } else {
    forward(op.a);
    backward(op.b, false);
  }
  if (!ep_) return;
  overlap_.wait_s[interleave] += ep_->exposed_wait_s() - waited;
  ++overlap_.pairs[interleave];
}

void PipelineExecutor::run_op(const Op& op) {
  switch (op.kind) {
    case OpKind::kF: return forward(op.a);
    case OpKind::kB: return backward(op.a, true);
    case OpKind::kBW: return backward(op.a, false);
    case OpKind::kW: return weight(op.a);
    case OpKind::kFB: return run_pair(op);
    case OpKind::kComm: return communicate(op.comm);
  }
}

std::vector<StepLosses> PipelineExecutor::step(const std::vector<TokenRows>& batches, const ModelWeights& w,
                                               const Objective& obj, const LossNorm& norm, const float* base,
                                               PairwiseSum& grads) {
  if (int(batches.size()) != s_.micro_batches)
    fail("pipeline: the step has ", batches.size(), " micro-batches, the schedule ", s_.micro_batches);
  for (const TokenRows& b : batches) {
    model_.check_batch(b, w);
    if (b.B != batches[0].B || b.T != batches[0].T) fail("pipeline: micro-batches of different shapes");
  }
  in_ = {&batches, &w, &obj, &norm, base, &grads, model_.balance_coef(obj, norm)};
  chunks_left_ = chunks_per_mb_;
  next_mb_ = 0;
  const int64_t L = cfg_.num_hidden_layers, D = int64_t(w.mtp.size());
  losses_.assign(batches.size(), MicroLosses(L, D));
  spans_.clear();
  comm_.barrier();  // a common start for the trace
  const Clock::time_point t0 = common_start();
  const std::vector<Op>& ops = s_.ops[size_t(rank_)];
  try {
    for (size_t i = 0; i < ops.size(); ++i) {
      await_inputs(ops[i]);  // idle, not part of the operation
      const double start = seconds_since(t0);
      maybe_fault(rank_, int64_t(i));
      run_op(ops[i]);
      spans_.push_back({int(i), start, seconds_since(t0)});
    }
    finish_sends();
  } catch (...) {
    abandon_in_flight();
    throw;
  }
  if (!chunks_.empty() || !values_.empty() || !receiving_.empty() || next_mb_ != s_.micro_batches)
    fail("pipeline rank ", rank_, ": the step ends with ", chunks_.size(), " chunks, ", values_.size(),
         " values and ", s_.micro_batches - next_mb_, " micro-batch gradients left");
  std::vector<float> sum = grads.take();
  const int64_t n = params_.layout().n_params();
  if (int64_t(sum.size()) != n) fail("pipeline: a gradient of ", sum.size(), " values, expected ", n);
  if (ep_) ep_->finish_step(sum.data());  // the local experts' gradients, summed per source
  ++steps_;
  params_.sum_grads(sum.data(), sum_piece());
  grads.add(std::move(sum));  // the one term: the step's gradient
  return sum_losses(w, obj.lambda_mtp);
}

std::vector<StepLosses> PipelineExecutor::evaluate(const std::vector<TokenRows>& batches, const ModelWeights& w,
                                                   const Objective& obj, const LossNorm& norm) {
  const float balance = model_.balance_coef(obj, norm);
  if (ep_) ep_->set_micro_batch(0);  // forwards only: each batch's records replace the last's
  losses_.assign(batches.size(), MicroLosses(cfg_.num_hidden_layers, int64_t(w.mtp.size())));
  for (size_t m = 0; m < batches.size(); ++m) {
    const TokenRows& b = batches[m];
    model_.check_batch(b, w);
    const int64_t count = b.B * b.T * cfg_.hidden_size;
    std::vector<float> x(static_cast<size_t>(count));
    for (int st = 0; st < s_.stages; ++st) {
      if (s_.rank_of(0, st) != rank_) continue;
      const int prev = st > 0 ? s_.rank_of(0, st - 1) : rank_, next = st + 1 < s_.stages ? s_.rank_of(0, st + 1) : rank_;
      if (st == 0) model_.embed(x.data(), b, w);
      else if (prev != rank_) comm_.recv(x.data(), count, dist::Elem::F32, prev, kEvalTag);
      TrainActs acts;
      const StageRange r = ranges_[size_t(st)];
      model_.layers_forward(x.data(), {b.B, b.T}, w, r.first, r.end, balance, acts, losses_[m]);
      if (st == s_.stages - 1) model_.head_forward(x.data(), b, w, obj, norm, nullptr, acts, losses_[m]);
      else if (next != rank_) comm_.send(x.data(), count, dist::Elem::F32, next, kEvalTag);
    }
  }
  return sum_losses(w, obj.lambda_mtp);
}

// Each micro-batch's terms were computed on one rank each (its stages'); zeros elsewhere, so
// the sum over ranks is exact; every rank then adds each micro-batch's up in one process's order.
std::vector<StepLosses> PipelineExecutor::sum_losses(const ModelWeights& w, double lambda_mtp) {
  const size_t M = losses_.size(), D = w.mtp.size(), slots = size_t(cfg_.num_hidden_layers) + D;
  const size_t E = size_t(cfg_.n_routed_experts);
  const size_t nd = 2 + slots, ni = 2 + 2 * D + slots * E;
  std::vector<double> dv(M * nd, 0.0);
  std::vector<int64_t> iv(M * ni, 0);
  for (size_t m = 0; m < M; ++m) {
    const MicroLosses& l = losses_[m];
    double* d = &dv[m * nd];
    int64_t* n = &iv[m * ni];
    d[0] = l.main, d[1] = l.mtp;
    std::copy(l.balance.begin(), l.balance.end(), d + 2);
    n[0] = l.main_count, n[1] = l.main_correct;
    std::copy(l.mtp_count.begin(), l.mtp_count.end(), n + 2);
    std::copy(l.mtp_correct.begin(), l.mtp_correct.end(), n + 2 + D);
    for (size_t s = 0; s < slots; ++s) {
      if (l.load[s].empty()) continue;
      if (l.load[s].size() != E) fail("pipeline: a MoE layer's load has ", l.load[s].size(), " experts, expected ", E);
      std::copy(l.load[s].begin(), l.load[s].end(), n + 2 + 2 * D + s * E);
    }
  }
  comm_.all_reduce(dv.data(), int64_t(dv.size()), dist::Elem::F64, dist::ReduceOp::Sum);
  comm_.all_reduce(iv.data(), int64_t(iv.size()), dist::Elem::I64, dist::ReduceOp::Sum);
  std::vector<StepLosses> out;
  for (size_t m = 0; m < M; ++m) {
    MicroLosses l(cfg_.num_hidden_layers, int64_t(D));
    const double* d = &dv[m * nd];
    const int64_t* n = &iv[m * ni];
    l.main = d[0], l.mtp = d[1];
    std::copy(d + 2, d + 2 + slots, l.balance.begin());
    l.main_count = n[0], l.main_correct = n[1];
    std::copy(n + 2, n + 2 + D, l.mtp_count.begin());
    std::copy(n + 2 + D, n + 2 + 2 * D, l.mtp_correct.begin());
    for (size_t s = 0; s < slots; ++s) l.load[s].assign(n + 2 + 2 * D + s * E, n + 2 + 2 * D + (s + 1) * E);
    out.push_back(l.sum(w, lambda_mtp));
  }
  return out;
}

// Ranks leave the barrier up to a time slice apart on a loaded host, so each rank's own clock
// would shift its spans against the others' and skew the trace's bubble. Ranks on one host share
// the steady clock (Linux's CLOCK_MONOTONIC): they all count from the earliest exit. A rank more
// than a second from it is on another host, whose clock is unrelated: it keeps its own.
Clock::time_point PipelineExecutor::common_start() {
  const Clock::time_point mine = Clock::now();
  double earliest = -std::chrono::duration<double>(mine.time_since_epoch()).count();
  comm_.all_reduce(&earliest, 1, dist::Elem::F64, dist::ReduceOp::Max);  // -(earliest exit)
  const auto t0 = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-earliest)));
  return mine - t0 < std::chrono::seconds(1) ? t0 : mine;
}

Timeline PipelineExecutor::gather_timeline() {
  std::vector<double> mine;
  for (const Span& sp : spans_) mine.insert(mine.end(), {double(sp.op), sp.start, sp.end});
  std::vector<int64_t> counts(size_t(s_.ranks));
  for (int r = 0; r < s_.ranks; ++r) counts[size_t(r)] = int64_t(s_.ops[size_t(r)].size()) * 3;
  if (int64_t(mine.size()) != counts[size_t(rank_)]) fail("pipeline: no step has run to trace");
  std::vector<double> all(size_t(std::accumulate(counts.begin(), counts.end(), int64_t(0))));
  comm_.all_gather(mine.data(), all.data(), counts, dist::Elem::F64);
  Timeline t;
  t.spans.resize(size_t(s_.ranks));
  t.busy.assign(size_t(s_.ranks), 0);
  t.finish.assign(size_t(s_.ranks), 0);
  size_t at = 0;
  for (int r = 0; r < s_.ranks; ++r) {
    for (size_t i = 0; i < s_.ops[size_t(r)].size(); ++i, at += 3) {
      const Span sp{int(all[at]), all[at + 1], all[at + 2]};
      t.spans[size_t(r)].push_back(sp);
      if (s_.ops[size_t(r)][size_t(sp.op)].kind != OpKind::kComm) t.busy[size_t(r)] += sp.end - sp.start;
      t.finish[size_t(r)] = sp.end;
    }
    t.makespan = std::max(t.makespan, t.finish[size_t(r)]);
  }
  return t;
}

}  // namespace dsv3::pipeline
