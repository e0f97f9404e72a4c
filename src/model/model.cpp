#include "model/model.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "io/checkpoint.h"
#include "kernels/ops.h"
#include "kernels/profile.h"
#include "model/embedding.h"
#include "model/gguf_bind.h"
#include "model/mtp.h"

namespace dsv3 {

std::unique_ptr<Model> Model::load(const std::string& dir) {
  ModelConfig cfg;
  std::unique_ptr<Checkpoint> ckpt;
  if (is_gguf_path(dir)) {
    GgufModel g = open_gguf_model(dir);
    cfg = std::move(g.config);
    ckpt = std::move(g.checkpoint);
  } else {
    cfg = load_config((std::filesystem::path(dir) / "config.json").string());
    ckpt = std::make_unique<Checkpoint>(dir);
  }
  auto bound = std::make_unique<BoundWeights>(bind_weights(*ckpt, cfg));
  auto m = std::make_unique<Model>(cfg, bound->weights);
  m->unused_ = bound->unused;
  m->ckpt_ = std::move(ckpt);
  m->bound_ = std::move(bound);
  return m;
}

Model::Model(ModelConfig cfg, ModelWeights weights)
    : cfg_(std::move(cfg)), w_(std::move(weights)), rope_(cfg_), softmax_scale_(attention_softmax_scale(cfg_)) {}

Model::~Model() = default;

BlockContext Model::block_context() const { return {{cfg_, rope_, softmax_scale_}, router_params(cfg_), moe_}; }

SequenceCache Model::new_cache() const {
  return SequenceCache(cfg_.num_hidden_layers, cfg_.kv_lora_rank, cfg_.qk_rope_head_dim);
}

SequenceCache Model::new_mtp_cache() const {
  return SequenceCache(1, cfg_.kv_lora_rank, cfg_.qk_rope_head_dim);
}

void Model::embed(float* out, const int32_t* tokens, int64_t n) const { embed_forward(out, tokens, n, w_.embed_tokens); }

void Model::check_batch(const TokenBatch& b, SequenceCache* const* caches) const {
  std::map<int32_t, int64_t> next;  // sequence -> the position its next row must have
  for (int64_t i = 0; i < b.size(); ++i) {
    if (b.tokens[size_t(i)] < 0 || b.tokens[size_t(i)] >= cfg_.vocab_size)
      fail("token id ", b.tokens[size_t(i)], " is outside the vocabulary [0, ", cfg_.vocab_size, ")");
    const int32_t s = b.seq[size_t(i)];
    auto it = next.try_emplace(s, caches[s]->length()).first;
    if (b.pos[size_t(i)] != it->second)
      fail("batch row ", i, " of sequence ", s, " has position ", b.pos[size_t(i)], ", expected ", it->second);
    ++it->second;
  }
  for (const auto& [s, end] : next) caches[s]->ensure(end);
}

void Model::forward(const TokenBatch& b, SequenceCache* const* caches, float* hidden,
                    std::vector<ExpertLoad>* load) const {
  forward_finish(*forward_start(b, caches, load), hidden);
}

std::unique_ptr<ForwardPass> Model::forward_start(const TokenBatch& b, SequenceCache* const* caches,
                                                  std::vector<ExpertLoad>* load) const {
  check_batch(b, caches);
  const int64_t H = cfg_.hidden_size;
  if (load) load->assign(size_t(cfg_.num_hidden_layers), {});
  auto pass = std::make_unique<ForwardPass>();
  pass->batch = b;
  int64_t slots = 0;
  for (int32_t s : b.seq) slots = std::max(slots, int64_t(s) + 1);
  pass->caches.assign(caches, caches + slots);
  // Every rank splits the batch the same way; stage s runs group g while stage s+1 runs g-1.
  pass->groups = stage_ ? micro_batch_rows(b, load ? 1 : stage_->micro_batches())
                        : std::vector<std::vector<int64_t>>{};
  if (!stage_) {
    pass->states.emplace_back(size_t(b.size() * H));
    forward_rows(b, caches, pass->states[0].data(), load);
    return pass;
  }
  const size_t G = pass->groups.size();
  pass->parts.resize(G);
  pass->states.resize(G);
  for (size_t g = 0; g < G; ++g) {
    for (int64_t i : pass->groups[g]) pass->parts[g].add(b.tokens[size_t(i)], b.pos[size_t(i)], b.seq[size_t(i)]);
    pass->states[g].resize(size_t(pass->parts[g].size() * H));
    stage_->expect_final(pass->states[g].data(), pass->parts[g].size() * H);
  }
  for (size_t g = 0; g < G; ++g) forward_rows(pass->parts[g], caches, pass->states[g].data(), load);
  return pass;
}

void Model::forward_finish(ForwardPass& pass, float* hidden) const {
  const TokenBatch& b = pass.batch;
  const int64_t n = b.size(), H = cfg_.hidden_size;
  if (!stage_) {
    std::copy_n(pass.states[0].data(), n * H, hidden);
  } else {
    for (size_t g = 0; g < pass.groups.size(); ++g) {
      stage_->share_final(pass.states[g].data(), pass.parts[g].size() * H);
      for (size_t r = 0; r < pass.groups[g].size(); ++r)
        std::copy_n(pass.states[g].data() + r * size_t(H), H, hidden + pass.groups[g][r] * H);
    }
    // Only now: a send that waits for its receive (a large one) would otherwise hold the first
    // stage until the next stage has run the passes before this one.
    stage_->sent();
  }
  for (int64_t i = 0; i < n; ++i) {
    SequenceCache& c = *pass.caches[size_t(b.seq[size_t(i)])];
    c.set_length(std::max(c.length(), int64_t(b.pos[size_t(i)]) + 1));
  }
}

// This process's layers over rows whose caches were checked; under a stage, the hidden states
// come from the stage before and go to the stage after (the last stage writes `hidden`).
void Model::forward_rows(const TokenBatch& b, SequenceCache* const* caches, float* hidden,
                         std::vector<ExpertLoad>* load) const {
  const int64_t n = b.size(), H = cfg_.hidden_size;
  const BlockContext ctx = block_context();
  const int64_t L = cfg_.num_hidden_layers;
  const int64_t first = stage_ ? stage_->first() : 0, end = stage_ ? stage_->end() : L;
  std::vector<float> x(size_t(n * H));
  if (first == 0) embed(x.data(), b.tokens.data(), n);
  else stage_->receive(x.data(), n * H);
  for (int64_t l = first; l < end; ++l) {
    const RowPlacement rows{b.pos.data(), b.seq.data(), caches, l};
    block_forward(x.data(), n, w_.layers[size_t(l)], ctx, rows, load ? &(*load)[size_t(l)] : nullptr);
  }
  if (end < L) stage_->send(std::move(x));
  else rmsnorm(hidden, x.data(), w_.norm.data, n, H, float(cfg_.rms_norm_eps));
}

std::vector<std::vector<int64_t>> micro_batch_rows(const TokenBatch& b, int64_t M) {
  int64_t slots = 0;
  for (int32_t s : b.seq) slots = std::max(slots, int64_t(s) + 1);
  M = std::clamp<int64_t>(M, 1, std::max<int64_t>(slots, 1));
  std::vector<std::vector<int64_t>> groups(static_cast<size_t>(M));
  for (int64_t i = 0; i < b.size(); ++i) groups[size_t(b.seq[size_t(i)] * M / slots)].push_back(i);
  std::erase_if(groups, [](const auto& g) { return g.empty(); });
  return groups;
}

void Model::logits(float* out, const float* hidden, int64_t n) const {
  const profile::Scope s("lm_head");
  head_forward(out, hidden, n, w_.lm_head);
}

void Model::mtp_forward(int64_t k, const float* prev, const TokenBatch& b, SequenceCache* const* mtp_caches,
                        float* hidden) const {
  check_batch(b, mtp_caches);
  const MtpWeights& m = w_.mtp[size_t(k)];
  const int64_t n = b.size(), H = cfg_.hidden_size;
  const float eps = float(cfg_.rms_norm_eps);
  std::vector<float> e(size_t(n * H)), x(size_t(n * H));
  embed(e.data(), b.tokens.data(), n);
  mtp_input_forward(x.data(), e.data(), prev, n, m, eps);
  const RowPlacement rows{b.pos.data(), b.seq.data(), mtp_caches, 0};
  block_forward(x.data(), n, m.block, block_context(), rows);
  rmsnorm(hidden, x.data(), m.shared_head_norm.data, n, H, eps);
  for (int64_t i = 0; i < n; ++i) {
    SequenceCache& c = *mtp_caches[b.seq[size_t(i)]];
    c.set_length(std::max(c.length(), int64_t(b.pos[size_t(i)]) + 1));
  }
}

}  // namespace dsv3
