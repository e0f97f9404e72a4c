#include "io/json_file.h"
#include "train/trainer.h"

#include <chrono>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/safetensors_writer.h"
#include "dist/world.h"
#include "train/balance.h"
#include "train/data_parallel.h"
#include "train/grad_sum.h"

namespace fs = std::filesystem;

namespace dsv3 {

int64_t TrainOptions::accumulation(int64_t T) const {
  const int64_t per = micro_batch * T;
  return batch_tokens <= 0 ? dp : std::max<int64_t>(1, (batch_tokens + per - 1) / per);
}

json TrainOptions::to_json(int64_t T) const {
  json j = {{"seq_len", T},
            {"micro_batch", micro_batch},
            {"accumulation", accumulation(T)},
            {"lr", {lr.peak, lr.warmup_steps, lr.decay_start, lr.decay_end, lr.final_lr}},
            {"adam", {adam.beta1, adam.beta2, adam.eps, adam.weight_decay, adam.bf16_moments}},
            {"clip", clip},
            {"lambda_mtp", {lambda_mtp.before, lambda_mtp.after, lambda_mtp.at_step}},
            {"alpha", alpha},
            {"gamma", {gamma.before, gamma.after, gamma.at_step}},
            {"precision", precision_name(precision)},
            {"data_seed", data_seed}};
  if (dp > 1) j["dp"] = dp;  // absent for one process, as before data parallelism existed
  return j;
}

ExpertShare rank_experts(const ModelConfig& cfg, int dp, const dist::Communicator* expert_group) {
  if (dp <= 1) return ExpertShare::all();
  if (!expert_group) fail("data-parallel training needs an expert group (of one rank without --ep)");
  const int64_t per = cfg.n_routed_experts / expert_group->size();
  return ExpertShare{expert_group->rank() * per, per};
}

namespace {

// The tensors a rank holds: all of them in one process; under data parallelism the replicated
// ones and the routed experts this rank owns in its expert group (all of them when E = 1); in a
// pipeline the same among its stages' tensors (the share's layout, built with rank_experts).
ParamLayout rank_layout(const ModelConfig& cfg, const TrainOptions& opt, const dist::Communicator* expert_group,
                        const ParamShare* share) {
  if (share) return share->layout();
  return ParamLayout(cfg, rank_experts(cfg, opt.dp, expert_group));
}

}  // namespace

Trainer::Trainer(const ModelConfig& cfg, const TrainOptions& opt, const Dataset& data, const std::string& out_dir,
                 dist::Communicator* data_group, dist::Communicator* expert_group, ParamShare* share)
    : cfg_(cfg), opt_(opt), data_(data), out_(out_dir), layout_(rank_layout(cfg, opt, expert_group, share)),
      params_(size_t(layout_.n_params())), biases_(size_t(layout_.n_bias())),
      grad_sum_(layout_.n_params()), sampler_(data.train.n_seq(), opt.data_seed) {
#if defined(__GLIBC__)
  // Every step allocates and frees the same large activation buffers; keep them in the heap
  // instead of returning them to the system and faulting them in again (a quarter of a step).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  if (opt.precision != Precision::kF32) compute_.resize(params_.size());
  if (data_group && data_group->size() != opt.dp)
    fail("the data-parallel group has ", data_group->size(), " ranks, the options say --dp ", opt.dp);
  if (opt.dp > 1) {
    check_data_parallel_batch(opt_, data.train.T);
    data_group_ = data_group;
    expert_group_ = expert_group;
    expert_data_ = data_group->split(expert_group->rank(), data_group->rank());
    zero_ = std::make_unique<Zero1>(*data_group, layout_, ParamRange{0, layout_.n_replicated()}, opt_.adam);
    zero_experts_ = std::make_unique<Zero1>(*expert_data_, layout_, ParamRange{layout_.n_replicated(), layout_.n_params()},
                                            opt_.adam);
  } else {
    adam_ = std::make_unique<AdamW>(layout_, opt_.adam);
  }
  model_ = std::make_unique<TrainModel>(cfg_, opt_.precision);
  if (expert_group && expert_group->size() > 1 && !share) {  // a pipeline's executor runs its own
    ep_ = std::make_unique<ExpertParallelTraining>(*expert_group, cfg_, opt_.precision);
    ep_->measure_overlap(opt_.measure_overlap);
    model_->set_moe_runner(ep_.get());
  }
  st_.options = opt_.to_json(data.train.T);
  share_ = share;
  if (share_) st_.options["pipeline"] = share_->describe();
  if (data.train.n_seq() == 0) fail("the training split has no complete sequence of ", data.train.T, " tokens");
}

Trainer::~Trainer() = default;

void Trainer::set_micro_batch_runner(MicroBatchRunner runner, bool writes) {
  runner_ = std::move(runner);
  writes_ = writes;
}

int64_t Trainer::optimizer_bytes() const {
  return zero_ ? zero_->adam().state_bytes() + zero_experts_->adam().state_bytes() : adam_->state_bytes();
}

int64_t Trainer::parameter_bytes() const { return int64_t(params_.size() + compute_.size()) * int64_t(sizeof(float)); }

std::vector<StatePart> Trainer::state_parts() {
  if (!zero_) return {{"", adam_.get()}};
  return {{"", &zero_->adam()}, {"expert_", &zero_experts_->adam()}};
}

double Trainer::clip_gradient() {
  std::vector<ParamRange> mine = {{0, layout_.n_params()}};
  std::vector<dist::Communicator*> groups;
  if (zero_) {
    mine = {zero_->range(), zero_experts_->range()};
    groups.push_back(data_group_);
  }
  std::function<bool(const ParamTensor&)> counted;
  if (share_) {  // a pipeline: the stages' parts, each tensor counted by one of its holders
    groups.push_back(&share_->group());
    counted = [this](const ParamTensor& t) { return share_->counts(t); };
  }
  return clip_split_norm(layout_, grads_.data(), mine, groups, counted, opt_.clip);
}

void Trainer::set_step_hook(StepHook hook) {
  if (zero_ || runner_) fail("post-training (a teacher, GRPO) runs in one process: not with --dp, --ep or --pp");
  hook_ = std::move(hook);
}

void Trainer::init_random(uint64_t seed, double std) { init_params(layout_, seed, std, params_.data(), biases_.data()); }

void Trainer::init_from(const std::string& dir) { load_params(layout_, dir, params_.data(), biases_.data()); }

bool Trainer::resume() {
  if (share_) {
    TrainState saved;
    if (!share_->resume(out_, params_.data(), biases_.data(), state_parts(), saved)) return false;
    if (zero_) {  // each data rank loaded its slices
      zero_->all_gather(params_.data());
      zero_experts_->all_gather(params_.data());
    }
    return adopt(saved, out_);
  }
  if (zero_) return resume_sharded();
  const std::string path = out_ + "/trainer_state.safetensors";
  const DpCommit commit = read_dp_commit(out_);
  if (commit.step >= 0)
    fail(out_, " holds the checkpoint of a run with --dp ", commit.dp, " --ep ", commit.ep, ": resume it with mpirun -np ",
         commit.dp, " dsv3 train --dp ", commit.dp, " --ep ", commit.ep);
  if (!fs::exists(path)) return false;
  TrainState saved;
  load_trainer_state(path, layout_, params_.data(), biases_.data(), state_parts(), saved);
  return adopt(saved, path);
}

bool Trainer::resume_sharded() {
  const DpCommit commit = read_dp_commit(out_);
  const int D = opt_.dp, E = expert_group_->size(), r = data_group_->rank();
  if (commit.step < 0) {
    if (fs::exists(out_ + "/trainer_state.safetensors"))
      dist::fail_on_every_rank(cat(out_, " holds the checkpoint of a single-process run: resume it without --dp"));
    return false;
  }
  // A rank's files hold its share of the experts, so the expert layout must match too.
  if (commit.dp != D || commit.ep != E)
    dist::fail_on_every_rank(cat(out_, " holds the checkpoint of a run with --dp ", commit.dp, " --ep ", commit.ep,
                                 ", this run has --dp ", D, " --ep ", E, " (resume needs the same layout)"));
  const std::string path = dp_state_path(out_, commit.step, r, D);
  TrainState saved;
  load_trainer_state(path, layout_, params_.data(), biases_.data(), state_parts(), saved);
  zero_->all_gather(params_.data());
  zero_experts_->all_gather(params_.data());
  return adopt(saved, path);
}

bool Trainer::adopt(const TrainState& saved, const std::string& path) {
  const json want = st_.options;
  for (auto it = want.begin(); it != want.end(); ++it) {
    if (saved.options.contains(it.key()) && saved.options[it.key()] == it.value()) continue;
    const std::string msg = cat(path, ": the run was started with ", it.key(), " = ",
                                saved.options.value(it.key(), json()).dump(), ", this command asks for ",
                                it.value().dump(), " (resume needs the same settings)");
    if (zero_ || share_) dist::fail_on_every_rank(msg);  // every rank read the same options
    throw Error(msg);
  }
  st_ = saved;
  sampler_.seek(st_.epoch, st_.cursor);
  if (!main_rank()) return true;
  // Forget metrics of steps after the checkpoint (the killed run may have logged some).
  const std::string mpath = out_ + "/metrics.jsonl";
  std::ifstream in(mpath);
  std::string line, kept;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("step", int64_t(0)) <= st_.step) kept += line + "\n";
  }
  write_file_atomic(mpath, kept);
  return true;
}

// The step's micro-batches this rank runs: every rank walks the sampler over the whole global
// batch (so all stay at the same position) but reads only its own share's sequences.
std::vector<TokenRows> Trainer::my_micro_batches() {
  const int64_t accum = opt_.accumulation(data_.train.T);
  const int64_t per_rank = accum / opt_.dp, rank = zero_ ? data_group_->rank() : 0;
  std::vector<TokenRows> batches;
  for (int64_t a = 0; a < accum; ++a) {
    const std::vector<int64_t> idx = sampler_.next(opt_.micro_batch);
    if (a / per_rank == rank) batches.push_back(data_.train.rows(idx));
  }
  return batches;
}

StepLosses Trainer::train_step(double* grad_norm) {
  const int64_t D = cfg_.num_nextn_predict_layers;
  std::vector<TokenRows> batches = my_micro_batches();
  const float* w = params_.data();
  if (!compute_.empty()) {
    round_params(layout_, params_.data(), compute_.data(), opt_.precision);
    w = compute_.data();
  }
  const ModelWeights weights = layout_.bind(w, biases_.data());
  std::vector<std::unique_ptr<HeadObjective>> heads(batches.size());
  if (hook_) {
    hook_metrics_ = hook_(st_.step, weights, batches, heads);
    if (heads.size() != batches.size()) fail("the step hook gave ", heads.size(), " objectives for ", batches.size(), " micro-batches");
  }
  LossNorm norm;
  for (const TokenRows& b : batches) norm.add(b, D);
  if (zero_) all_reduce(norm, *data_group_);
  const Objective obj{opt_.lambda_mtp.at(st_.step), opt_.alpha};
  // Each micro-batch's gradient in its own buffer, summed pairwise (train/grad_sum.h): the
  // grouping a data-parallel run reproduces.
  grad_sum_.recycle(std::move(grads_));
  std::vector<StepLosses> losses;
  if (runner_) {
    losses = runner_(batches, weights, obj, norm, w, &grad_sum_);
  } else {
    for (size_t i = 0; i < batches.size(); ++i) {
      std::vector<float> g = grad_sum_.fresh();
      const GradSink sink{w, g.data()};
      Objective o = obj;
      o.head = heads[i].get();
      if (ep_) ep_->set_micro_batch(int(i));
      losses.push_back(model_->run(batches[i], weights, o, norm, &sink));
      grad_sum_.add(std::move(g));
    }
  }
  grads_ = grad_sum_.take();
  if (ep_) ep_->finish_step(grads_.data());  // the local experts' gradients, kept per source rank
  const StepLosses total = sum_step_losses(losses, data_group_);
  const double lr = opt_.lr.at(st_.step);
  if (zero_) {
    zero_->reduce_scatter(grads_.data());
    zero_experts_->reduce_scatter(grads_.data());
    *grad_norm = clip_gradient();
    zero_->step(params_.data(), grads_.data(), lr);
    zero_experts_->step(params_.data(), grads_.data(), lr);
  } else {
    *grad_norm = clip_gradient();
    adam_->step(params_.data(), grads_.data(), lr);
  }
  // The loads are every rank's (summed above), so every rank moves the bias the same way.
  update_routing_bias(layout_, biases_.data(), total.load, opt_.gamma.at(st_.step));
  st_.tokens += opt_.accumulation(data_.train.T) * opt_.micro_batch * data_.train.T;
  st_.epoch = sampler_.epoch();
  st_.cursor = sampler_.cursor();
  return total;
}

EvalResult Trainer::evaluate() {
  EvalResult r;
  const PackedSet& val = data_.val;
  int64_t n = val.n_seq();
  if (opt_.eval_sequences > 0) n = std::min(n, opt_.eval_sequences);
  if (n == 0) return r;
  const float* w = params_.data();
  if (!compute_.empty()) {
    round_params(layout_, params_.data(), compute_.data(), opt_.precision);
    w = compute_.data();
  }
  const ModelWeights weights = layout_.bind(w, biases_.data());
  const int64_t D = cfg_.num_nextn_predict_layers;
  LossNorm norm;
  std::vector<TokenRows> batches;
  for (int64_t s = 0; s < n; s += opt_.micro_batch) {
    std::vector<int64_t> idx;
    for (int64_t i = s; i < std::min(n, s + opt_.micro_batch); ++i) idx.push_back(i);
    batches.push_back(val.rows(idx));
    norm.add(batches.back(), D);
  }
  StepLosses total;
  if (runner_) {  // a pipeline: every rank runs its stages
    for (const StepLosses& l : runner_(batches, weights, {1.0, 0.0}, norm, w, nullptr)) total.add(l);
  } else {
    for (const TokenRows& b : batches) total.add(model_->run(b, weights, {1.0, 0.0}, norm, nullptr));
  }
  r.sequences = n;
  r.tokens = total.main_count;
  r.main = total.main;
  r.perplexity = std::exp(total.main);
  r.main_acc = total.main_count ? double(total.main_correct) / double(total.main_count) : 0.0;
  r.mtp = total.mtp;
  if (!total.mtp_count.empty() && total.mtp_count[0] > 0) r.mtp_acc = double(total.mtp_correct[0]) / double(total.mtp_count[0]);
  return r;
}

void Trainer::save() {
  if (share_) return share_->save(out_, params_.data(), biases_.data(), state_parts(), st_, opt_.save_dtype);
  if (zero_) return save_sharded();
  if (!writes_) return;  // a pipeline's other ranks: rank 0 holds the same parameters
  fs::create_directories(out_);
  save_trainer_state(out_ + "/trainer_state.safetensors", layout_, params_.data(), biases_.data(), state_parts(), st_);
  export_model(out_, layout_, params_.data(), biases_.data(), opt_.save_dtype);
}

void Trainer::save_sharded() {
  const int D = opt_.dp, r = data_group_->rank();
  save_trainer_state(dp_state_path(out_, st_.step, r, D), layout_, params_.data(), biases_.data(), state_parts(), st_);
  data_group_->barrier();  // every slice is complete on disk before the commit names it
  if (r == 0) write_dp_commit(out_, st_.step, D, expert_group_->size());
  export_sharded(out_, layout_, params_.data(), biases_.data(), opt_.save_dtype, *data_group_, *expert_group_);
  data_group_->barrier();
  remove_old_dp_states(out_, st_.step, r, D);
}

void Trainer::run() {
  fs::create_directories(out_);
  using clock = std::chrono::steady_clock;
  while (st_.step < opt_.steps) {
    const auto t0 = clock::now();
    const double lr = opt_.lr.at(st_.step);
    double grad_norm = 0;
    const StepLosses l = train_step(&grad_norm);
    ++st_.step;
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    st_.elapsed_s += secs;
    run_seconds_ += secs;
    ++run_steps_;
    if (main_rank()) log_step(l, grad_norm, lr, secs);
    const bool last = st_.step == opt_.steps;
    // Evaluation: with data parallelism alone rank 0 runs it (every rank holds the whole model);
    // with expert parallelism every rank runs the same batches, as the MoE layers need them all;
    // in a pipeline every rank runs its stages.
    if (last || (opt_.eval_every > 0 && st_.step % opt_.eval_every == 0)) {
      if (runner_) {
        const EvalResult e = evaluate();
        if (main_rank()) log_eval(e);
      } else if (ep_) {
        ep_->measure_overlap(false);  // training steps only
        const EvalResult e = evaluate();
        ep_->measure_overlap(opt_.measure_overlap);
        if (main_rank()) log_eval(e);
      } else if (main_rank()) {
        log_eval(evaluate());
      }
    }
    if (last || (opt_.save_every > 0 && st_.step % opt_.save_every == 0)) save();
  }
  if (ep_ && opt_.measure_overlap) report_overlap();
}

}  // namespace dsv3
