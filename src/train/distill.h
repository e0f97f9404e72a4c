// Logit distillation from a teacher sharing the student's tokenizer (Hinton, Vinyals, Dean 2015,
// "Distilling the Knowledge in a Neural Network"; the DeepSeek-V3 report §5.4.1 distils R1's
// reasoning into V3). For each target row, with student logits z and teacher logits u [V]:
//
//   S     = the teacher's k most likely ids (top-k truncation; k = V keeps them all)
//   q_j   = exp(u_j/τ) / Σ_{i∈S} exp(u_i/τ)   for j ∈ S, 0 elsewhere     (teacher at temperature τ)
//   p^τ   = softmax(z/τ),  p = softmax(z)
//   KL    = Σ_{j∈S} q_j (log q_j − log p^τ_j)                              (KL(q ‖ p^τ))
//   ℓ     = (1−α)·(−log p_y) + α·τ²·KL                                     (mixed with the ordinary loss)
//   ∂ℓ/∂z = (1−α)(p − e_y) + α·τ·(p^τ − q)                                 (Σ_j q_j = 1)
//
// τ² keeps the soft term's gradient on the scale of the hard term's as τ changes (Hinton §2).
// L_main = (1/N) Σ_rows ℓ with N the step's target rows, the mean cross-entropy's weighting.
// The teacher's logits come from the same training forward (TrainModel), run without gradients.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "train/loss.h"
#include "train/model_train.h"
#include "train/params.h"

namespace dsv3 {

struct DistillOptions {
  double alpha = 0.5;        // weight of the soft (teacher) term; 1 - alpha on cross-entropy
  double temperature = 2.0;  // τ
  int64_t top_k = 32;        // teacher ids kept per row (0: the whole vocabulary)
};

// The teacher's truncated distribution q of every row of one batch: ids and q [n, k], n = B·T
// (rows without a target are left at id -1, q 0).
struct TeacherTopK {
  int64_t k = 0;
  std::vector<int32_t> ids;
  std::vector<float> q;
};

// A HeadObjective that records, for every target row, the top-k ids of its logits and q at
// temperature τ (the forward's loss is 0; it takes no gradient).
class TopKRecorder : public HeadObjective {
 public:
  TopKRecorder(int64_t rows, int64_t k, double temperature);
  double row(int64_t r, int32_t y, float* z, int64_t V, bool grad) override;
  TeacherTopK take() { return std::move(out_); }

 private:
  double tau_;
  TeacherTopK out_;
};

// ℓ of the top of this file for each target row, weighted by `weight` (1/N).
class DistillObjective : public HeadObjective {
 public:
  DistillObjective(TeacherTopK teacher, const DistillOptions& opt, double weight);
  double row(int64_t r, int32_t y, float* z, int64_t V, bool grad) override;

 private:
  TeacherTopK t_;
  DistillOptions opt_;
  double weight_;
};

// A model that is read once and only run forward (distillation's teacher, GRPO's reference):
// its float32 weights and the training forward, whose output head is scored by `head`.
class FrozenModel {
 public:
  // Error when the folder does not load or (with `vocab` >= 0) its vocabulary is not `vocab` ids.
  explicit FrozenModel(const std::string& dir, int64_t vocab = -1);
  void run(const TokenRows& batch, HeadObjective& head);
  const ModelConfig& config() const { return layout_.config(); }

 private:
  ParamLayout layout_;
  std::vector<float> params_, biases_;
  TrainModel model_;
};

// The teacher's top-k distribution on every target row of a batch.
TeacherTopK teacher_top_k(FrozenModel& teacher, const TokenRows& batch, const DistillOptions& opt);

// The trainer's step hook (trainer.h) for `dsv3 train --teacher DIR`: each micro-batch gets a
// DistillObjective against the teacher's distribution on the same tokens (the logged `main` is
// then the mixed L_main).
struct Distiller {
  std::shared_ptr<FrozenModel> teacher;
  DistillOptions opt;
  json operator()(int64_t step, const ModelWeights& w, std::vector<TokenRows>& batches,
                  std::vector<std::unique_ptr<HeadObjective>>& heads) const;
};

}  // namespace dsv3
