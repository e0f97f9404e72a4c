// The whole model in training: embedding, decoder blocks, final norm, output head and the MTP
// modules, with the objective of the DeepSeek-V3 report (§2.2, §2.1.2):
//
//   L = L_main + λ·L_mtp + L_bal
//   L_main = mean CE of next-token prediction;  L_mtp = (1/D) Σ_k mean CE of module k, which
//   predicts the token k+1 ahead;  L_bal = Σ over MoE layers (MTP blocks too) of the mean over
//   sequences of α Σ_i f_i P_i  (see moe_backward.h).
//
// MTP module k (1-based) runs over positions i = 0..T-1-k of each sequence: its input is
// eh_proj([enorm(embed(t_{i+k})) ; hnorm(h^{k-1}_i)]) with h^0 the main model's final-normed
// state and h^{k-1} module k-1's shared_head.norm output; lm_head of its output predicts t_{i+k+1}.
// The embedding and head are the main model's (their gradients include the MTP terms).
//
// Every forward is src/model's (embedding.h, block.h, mtp.h) run over whole sequences with an
// activation record at the training precision; this file adds the objective and the backward.
#pragma once
#include <cstdint>
#include <vector>

#include "model/rope.h"
#include "train/block_backward.h"

namespace dsv3 {

// B sequences of T tokens. mask[b·T + t] = 1 when predicting token t counts in the loss (SFT:
// assistant tokens only); empty means every token counts.
struct TokenRows {
  int64_t B = 0, T = 0;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> mask;
  std::vector<int64_t> seq_index;  // [B] which sequences of its PackedSet these are (PackedSet::rows)
  bool target(int64_t b, int64_t t) const { return mask.empty() || mask[size_t(b * T + t)]; }
};

class HeadObjective;

struct Objective {
  double lambda_mtp = 0.3;  // λ
  double alpha = 1e-4;      // α of the sequence-wise balance loss
  // L_main's per-token term instead of cross-entropy (post-training: distillation, GRPO); its
  // terms carry their own weights, so L_main is their sum. The MTP modules keep cross-entropy.
  HeadObjective* head = nullptr;
};

// The denominators of the means, counted over a whole optimizer step (every micro-batch), so
// that gradient accumulation equals one large batch.
struct LossNorm {
  int64_t main_targets = 0;
  std::vector<int64_t> mtp_targets;  // per MTP depth
  int64_t sequences = 0;
  void add(const TokenRows& batch, int64_t mtp_depth);
};

struct StepLosses {
  double total = 0, main = 0, mtp = 0, balance = 0;  // each already divided by its LossNorm
  int64_t main_count = 0, main_correct = 0;
  std::vector<int64_t> mtp_count, mtp_correct;       // per depth
  std::vector<std::vector<int64_t>> load;             // per MoE layer (main, then MTP): tokens per expert
  void add(const StepLosses& o);
};

// One micro-batch's loss terms before they are summed. A pipeline computes them on several
// ranks (each stage its layers' terms, the last stage the losses) and sums them with sum(), in
// the order one process does, so the step's losses are the same to the bit.
struct MicroLosses {
  double main = 0, mtp = 0;  // each already divided by its LossNorm
  int64_t main_count = 0, main_correct = 0;
  std::vector<int64_t> mtp_count, mtp_correct;  // [D]
  std::vector<double> balance;                  // [L + D] α·Σ_i f_i P_i / #sequences of each block
  std::vector<std::vector<int64_t>> load;       // [L + D] tokens per expert of each MoE block
  MicroLosses(int64_t layers, int64_t mtp_depth);
  StepLosses sum(const ModelWeights& w, double lambda_mtp) const;
};

// MTP module k's activations of one micro-batch (see the top of this file).
struct MtpActs {
  Rows rows;
  std::vector<int32_t> tokens, targets;  // [B·Tk] input tokens t_{i+k}, targets t_{i+k+1} or -1
  std::vector<float> emb, prev, cat, x_out, h, dh;  // dh: gradient of h (head + next module)
  BlockRecord block;
};

// What one micro-batch's forward keeps for its backward: the blocks of the layers run, and on
// the part that ends the model the final state and the MTP modules.
struct TrainActs {
  std::vector<BlockRecord> blocks;  // the layers [l0, l1) of the forward, in order
  std::vector<MtpActs> mtp;
  std::vector<float> x_final, h_final, dh;
};

class TrainModel {
 public:
  TrainModel(const ModelConfig& cfg, Precision p);
  TrainModel(const TrainModel&) = delete;
  TrainModel& operator=(const TrainModel&) = delete;

  // Forward (and, when g is given, backward: gradients are added through g) of one micro-batch.
  // w are the weights at the mode's precision; the losses are this batch's share of the step's.
  StepLosses run(const TokenRows& batch, const ModelWeights& w, const Objective& obj, const LossNorm& norm,
                 const GradSink* g);

  // The parts run() is made of, which a pipeline stage runs on its share of the model
  // (src/pipeline/executor.h). x, dx are [B·T, hidden]; a holds one micro-batch's records.
  void check_batch(const TokenRows& batch, const ModelWeights& w) const;  // Error on a bad batch
  float balance_coef(const Objective& obj, const LossNorm& norm) const;
  void embed(float* x, const TokenRows& batch, const ModelWeights& w) const;
  // Decoder layers [l0, l1) in place on x; their balance terms and loads go to out.
  void layers_forward(float* x, const Rows& rows, const ModelWeights& w, int64_t l0, int64_t l1, float balance_coef,
                      TrainActs& a, MicroLosses& out) const;
  // Final norm, output head and cross-entropy, MTP modules, from the last layer's output x. With
  // g the head's weight gradient is taken here (while the logits are at hand), as in run().
  void head_forward(const float* x, const TokenRows& batch, const ModelWeights& w, const Objective& obj,
                    const LossNorm& norm, const GradSink* g, TrainActs& a, MicroLosses& out) const;
  // dx (overwritten) = dL/d(last layer's output), through the MTP modules and the final norm.
  void head_backward(float* dx, const ModelWeights& w, float balance_coef, TrainActs& a, const GradSink& g) const;
  // dx: on entry dL/d(output of layer l1-1), on return dL/d(input of layer l0).
  void layers_backward(float* dx, const Rows& rows, const ModelWeights& w, int64_t l0, int64_t l1, float balance_coef,
                       const TrainActs& a, const GradSink& g) const;
  void embed_backward(const TokenRows& batch, const ModelWeights& w, const float* dx, const GradSink& g) const;

  const BlockContext& context() const { return ctx_; }
  // Runs the MoE layers through `moe` (expert parallelism: train/moe_parallel.h); null: locally.
  void set_moe_runner(MoeRunner* moe) { ctx_.moe = moe; }

 private:
  void mtp_forward(int64_t k, const TokenRows& batch, const ModelWeights& w, const float* prev, int64_t prev_T,
                   MtpActs& m) const;
  void mtp_backward(int64_t k, const ModelWeights& w, float balance_coef, float* dprev, int64_t prev_T,
                    const MtpActs& m, const GradSink& g) const;
  void scatter_embed_grad(float* dtable, const int32_t* tokens, int64_t n, const float* dx) const;

  ModelConfig cfg_;
  Rope rope_;
  BlockContext ctx_;  // refers to cfg_ and rope_
  float eps_;
  TrainActs acts_;    // run()'s records
};

}  // namespace dsv3
