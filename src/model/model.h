// The DeepSeek-V3 model: embedding, decoder blocks, final norm, output head, and the
// multi-token-prediction (MTP) modules. Weights are views (see weights.h); the forward pass
// runs a batch of token rows that may belong to different sequences, each with its own cache.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/block.h"
#include "model/config.h"
#include "model/latent_cache.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv3 {

class Checkpoint;

// Token rows of one forward pass. Row i is token tokens[i] at position pos[i] of sequence
// seq[i]; each sequence's rows continue its cache contiguously (pos = cache length, +1, ...).
struct TokenBatch {
  std::vector<int32_t> tokens, pos, seq;
  int64_t size() const { return int64_t(tokens.size()); }
  void add(int32_t token, int32_t position, int32_t sequence) {
    tokens.push_back(token);
    pos.push_back(position);
    seq.push_back(sequence);
  }
};

// Pipeline-parallel inference (pipeline/infer_stages.h): this process runs decoder layers
// [first, end) only. The first stage embeds the tokens; the others receive the hidden states of
// the stage before; the last applies the final norm, and its final-normed states go back to the
// first stage, which alone computes logits and picks tokens (the others follow its steps).
// A forward pass goes down the stages in micro-batches (groups of whole sequences), each sent on
// without waiting, so that the stages work on different groups at once.
class StageLink {
 public:
  virtual ~StageLink() = default;
  virtual int64_t first() const = 0;
  virtual int64_t end() const = 0;
  virtual int64_t micro_batches() const = 0;
  virtual void receive(float* x, int64_t count) const = 0;  // from the stage before
  virtual void send(std::vector<float> x) const = 0;        // to the stage after, in the background
  virtual void sent() const = 0;                            // waits for the sends so far
  // The last stage's final states, to the first: the first stage posts its receive with
  // expect_final when a pass starts (so that it can start another pass meanwhile) and share_final
  // waits for the oldest posted one; the last stage sends in share_final.
  virtual void expect_final(float* hidden, int64_t count) const {}
  virtual void share_final(float* hidden, int64_t count) const = 0;
};

// A forward pass between Model::forward_start and forward_finish: its rows, their caches, and
// per micro-batch the row indices and the buffer the final states arrive in.
struct ForwardPass {
  TokenBatch batch;
  std::vector<SequenceCache*> caches;  // by the batch's seq
  std::vector<std::vector<int64_t>> groups;
  std::vector<TokenBatch> parts;
  std::vector<std::vector<float>> states;  // [group rows, hidden]
};

// The rows of each of at most M micro-batches: the batch's slots (sequences) in M contiguous
// groups, so that a group holds every row of its sequences; empty groups are left out.
std::vector<std::vector<int64_t>> micro_batch_rows(const TokenBatch& b, int64_t M);

class Model {
 public:
  // Loads config.json and the safetensors of a checkpoint folder, or a llama.cpp deepseek2
  // GGUF file / split set (a path ending in .gguf, model/gguf_bind.h), validating every tensor.
  static std::unique_ptr<Model> load(const std::string& dir);
  // A model over weights owned elsewhere (training).
  Model(ModelConfig cfg, ModelWeights weights);
  ~Model();

  const ModelConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return w_; }
  const std::vector<std::string>& unused_tensors() const { return unused_; }
  const Checkpoint* checkpoint() const { return ckpt_.get(); }
  const Rope& rope() const { return rope_; }
  BlockContext block_context() const;
  // Expert parallelism: MoE layers (main and MTP) run through `moe` (null: in this process).
  void set_moe_runner(MoeRunner* moe) { moe_ = moe; }
  // Pipeline parallelism: forward() runs the stage's layers (null: all of them).
  void set_stage(const StageLink* stage) { stage_ = stage; }

  SequenceCache new_cache() const;      // one layer per decoder block
  SequenceCache new_mtp_cache() const;  // the cache of one MTP module (each depth has its own)
  int64_t mtp_depth() const { return int64_t(w_.mtp.size()); }

  // hidden [n, hidden_size]: the final-normed states of the batch rows. Appends to the caches.
  // load (optional) receives per-layer expert counts.
  void forward(const TokenBatch& batch, SequenceCache* const* caches, float* hidden,
               std::vector<ExpertLoad>* load = nullptr) const;
  // forward() in two halves, for the first stage of a pipeline (Batcher's in-flight groups):
  // forward_start runs this stage on the batch and sends it on; forward_finish waits for the last
  // stage's final states. Between the two this rank may start other batches' passes (of other
  // sequences: the caches stay reserved to this pass). Without a stage, forward_start runs it all.
  std::unique_ptr<ForwardPass> forward_start(const TokenBatch& batch, SequenceCache* const* caches,
                                             std::vector<ExpertLoad>* load = nullptr) const;
  void forward_finish(ForwardPass& pass, float* hidden) const;

  // logits [n, vocab] = lm_head(hidden)
  void logits(float* out, const float* hidden, int64_t n) const;

  // MTP module k: for rows at position i with prev [n, hidden] the previous depth's final-normed
  // state at i and next_tokens the token at i + k + 1, writes the module's final-normed state
  // (shared_head.norm) to hidden; lm_head of it predicts the token at i + k + 2.
  // mtp_caches are depth k's caches (from new_mtp_cache), indexed by the batch's seq.
  void mtp_forward(int64_t k, const float* prev, const TokenBatch& batch, SequenceCache* const* mtp_caches,
                   float* hidden) const;

  // Widened embedding rows [n, hidden].
  void embed(float* out, const int32_t* tokens, int64_t n) const;

 private:
  void check_batch(const TokenBatch& batch, SequenceCache* const* caches) const;
  void forward_rows(const TokenBatch& batch, SequenceCache* const* caches, float* hidden,
                    std::vector<ExpertLoad>* load) const;
  ModelConfig cfg_;
  std::unique_ptr<Checkpoint> ckpt_;
  std::unique_ptr<BoundWeights> bound_;
  ModelWeights w_;
  std::vector<std::string> unused_;
  Rope rope_;
  float softmax_scale_;
  MoeRunner* moe_ = nullptr;
  const StageLink* stage_ = nullptr;
};

}  // namespace dsv3
