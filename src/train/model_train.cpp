#include "train/model_train.h"

#include <cstring>

#include "core/error.h"
#include "kernels/ops.h"
#include "kernels/precision_linear.h"
#include "model/embedding.h"
#include "model/mtp.h"
#include "train/loss.h"
#include "train/ops_backward.h"
#include "train/weight_grad.h"

namespace dsv3 {

void LossNorm::add(const TokenRows& b, int64_t depth) {
  mtp_targets.resize(size_t(depth), 0);
  sequences += b.B;
  for (int64_t s = 0; s < b.B; ++s) {
    for (int64_t t = 1; t < b.T; ++t) main_targets += b.target(s, t);
    for (int64_t k = 1; k <= depth; ++k)
      for (int64_t t = k + 1; t < b.T; ++t) mtp_targets[size_t(k - 1)] += b.target(s, t);
  }
}

void StepLosses::add(const StepLosses& o) {
  total += o.total;
  main += o.main;
  mtp += o.mtp;
  balance += o.balance;
  main_count += o.main_count;
  main_correct += o.main_correct;
  if (mtp_count.size() < o.mtp_count.size()) {
    mtp_count.resize(o.mtp_count.size(), 0);
    mtp_correct.resize(o.mtp_correct.size(), 0);
  }
  for (size_t k = 0; k < o.mtp_count.size(); ++k) {
    mtp_count[k] += o.mtp_count[k];
    mtp_correct[k] += o.mtp_correct[k];
  }
  if (load.size() < o.load.size()) load.resize(o.load.size());
  for (size_t l = 0; l < o.load.size(); ++l) {
    load[l].resize(o.load[l].size(), 0);
    for (size_t e = 0; e < o.load[l].size(); ++e) load[l][e] += o.load[l][e];
  }
}

MicroLosses::MicroLosses(int64_t layers, int64_t depth)
    : mtp_count(size_t(depth), 0), mtp_correct(size_t(depth), 0), balance(size_t(layers + depth), 0.0),
      load(size_t(layers + depth)) {}

StepLosses MicroLosses::sum(const ModelWeights& w, double lambda_mtp) const {
  StepLosses out;
  const size_t L = w.layers.size();
  for (size_t l = 0; l < balance.size(); ++l) {
    // Dense layers have no balance term; every MTP block's term is added (0 when dense).
    const bool moe = l < L ? w.layers[l].is_moe : w.mtp[l - L].block.is_moe;
    if (l < L && !moe) continue;
    out.balance += balance[l];
    if (moe) out.load.push_back(load[l]);
  }
  out.main = main;
  out.main_count = main_count;
  out.main_correct = main_correct;
  out.mtp = mtp;
  out.mtp_count = mtp_count;
  out.mtp_correct = mtp_correct;
  out.total = out.main + lambda_mtp * out.mtp + out.balance;
  return out;
}

TrainModel::TrainModel(const ModelConfig& cfg, Precision p)
    : cfg_(cfg), rope_(cfg_), ctx_{{cfg_, rope_, attention_softmax_scale(cfg_)}, router_params(cfg_), nullptr, p},
      eps_(float(cfg_.rms_norm_eps)) {}

void TrainModel::scatter_embed_grad(float* dtable, const int32_t* tokens, int64_t n, const float* dx) const {
  const int64_t H = cfg_.hidden_size;
  for (int64_t i = 0; i < n; ++i) add_inplace(dtable + int64_t(tokens[i]) * H, dx + i * H, H);
}

namespace {
float inverse(int64_t count) { return count > 0 ? 1.0f / float(count) : 0.0f; }
}  // namespace

void TrainModel::check_batch(const TokenRows& batch, const ModelWeights& w) const {
  const int64_t T = batch.T, D = int64_t(w.mtp.size());
  if (T < D + 2) fail("sequences of ", T, " tokens are too short for ", D, " MTP module(s) (need >= ", D + 2, ")");
  if (T > cfg_.max_position_embeddings) fail("sequence length ", T, " exceeds max_position_embeddings");
  for (int32_t t : batch.tokens)
    if (t < 0 || t >= cfg_.vocab_size) fail("token id ", t, " is outside the vocabulary [0, ", cfg_.vocab_size, ")");
}

float TrainModel::balance_coef(const Objective& obj, const LossNorm& norm) const {
  return float(obj.alpha) * inverse(norm.sequences);
}

StepLosses TrainModel::run(const TokenRows& batch, const ModelWeights& w, const Objective& obj, const LossNorm& norm,
                           const GradSink* g) {
  check_batch(batch, w);
  const int64_t L = int64_t(w.layers.size()), n = batch.B * batch.T;
  const Rows rows{batch.B, batch.T};
  const float bal_coef = balance_coef(obj, norm);
  MicroLosses out(L, int64_t(w.mtp.size()));
  std::vector<float> x(size_t(n * cfg_.hidden_size));
  embed(x.data(), batch, w);
  layers_forward(x.data(), rows, w, 0, L, bal_coef, acts_, out);
  head_forward(x.data(), batch, w, obj, norm, g, acts_, out);
  if (g) {
    std::vector<float>& dx = x;  // reuse: dL/d(residual stream)
    head_backward(dx.data(), w, bal_coef, acts_, *g);
    layers_backward(dx.data(), rows, w, 0, L, bal_coef, acts_, *g);
    embed_backward(batch, w, dx.data(), *g);
  }
  return out.sum(w, obj.lambda_mtp);
}

void TrainModel::embed(float* x, const TokenRows& batch, const ModelWeights& w) const {
  embed_forward(x, batch.tokens.data(), batch.B * batch.T, w.embed_tokens);
}

void TrainModel::layers_forward(float* x, const Rows& rows, const ModelWeights& w, int64_t l0, int64_t l1,
                                float bal_coef, TrainActs& a, MicroLosses& out) const {
  a.blocks.resize(size_t(l1 - l0));
  for (int64_t l = l0; l < l1; ++l) {
    BlockRecord& r = a.blocks[size_t(l - l0)];
    block_train_forward(x, rows, w.layers[size_t(l)], ctx_, r);
    if (w.layers[size_t(l)].is_moe) {
      out.balance[size_t(l)] = r.balance.balance * bal_coef;
      out.load[size_t(l)] = r.load.tokens_per_expert;
    }
  }
}

void TrainModel::head_forward(const float* x, const TokenRows& batch, const ModelWeights& w, const Objective& obj,
                              const LossNorm& norm, const GradSink* g, TrainActs& a, MicroLosses& out) const {
  const int64_t B = batch.B, T = batch.T, H = cfg_.hidden_size, n = B * T;
  const int64_t L = int64_t(w.layers.size()), D = int64_t(w.mtp.size());
  const Precision hp = high_precision(ctx_.precision);
  const float bal_coef = balance_coef(obj, norm);
  a.x_final.assign(x, x + n * H);
  a.h_final.resize(size_t(n * H));
  rmsnorm(a.h_final.data(), x, w.norm.data, n, H, eps_);

  std::vector<int32_t> targets(size_t(n), -1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t)
      if (batch.target(b, t + 1)) targets[size_t(b * T + t)] = batch.tokens[size_t(b * T + t + 1)];
  const float main_coef = obj.head ? 1.0f : inverse(norm.main_targets);
  a.dh.resize(g ? size_t(n * H) : 0);
  const HeadLoss hl = head_loss(a.h_final.data(), n, targets.data(), w.lm_head, hp, main_coef,
                                g ? a.dh.data() : nullptr, g ? g->of(w.lm_head) : nullptr, obj.head);
  out.main = hl.sum * main_coef;
  out.main_count = hl.count;
  out.main_correct = hl.correct;

  a.mtp.resize(size_t(D));
  for (int64_t k = 1; k <= D; ++k) {
    const float* prev = k == 1 ? a.h_final.data() : a.mtp[size_t(k - 2)].h.data();
    MtpActs& m = a.mtp[size_t(k - 1)];
    mtp_forward(k, batch, w, prev, T - k + 1, m);
    const float coef = inverse(norm.mtp_targets[size_t(k - 1)]);
    if (g) m.dh.resize(m.h.size());
    const HeadLoss ml = head_loss(m.h.data(), m.rows.n(), m.targets.data(), w.lm_head, hp,
                                  float(obj.lambda_mtp / double(D)) * coef, g ? m.dh.data() : nullptr,
                                  g ? g->of(w.lm_head) : nullptr);
    out.mtp += ml.sum * coef / double(D);
    out.mtp_count[size_t(k - 1)] = ml.count;
    out.mtp_correct[size_t(k - 1)] = ml.correct;
    out.balance[size_t(L + k - 1)] = m.block.balance.balance * bal_coef;
    if (w.mtp[size_t(k - 1)].block.is_moe) out.load[size_t(L + k - 1)] = m.block.load.tokens_per_expert;
  }
}

void TrainModel::head_backward(float* dx, const ModelWeights& w, float bal_coef, TrainActs& a,
                               const GradSink& g) const {
  const int64_t D = int64_t(w.mtp.size()), H = cfg_.hidden_size, n = int64_t(a.x_final.size()) / H;
  for (int64_t k = D; k >= 1; --k) {
    float* dprev = k == 1 ? a.dh.data() : a.mtp[size_t(k - 2)].dh.data();
    const MtpActs& m = a.mtp[size_t(k - 1)];
    mtp_backward(k, w, bal_coef, dprev, m.rows.T + 1, m, g);
  }
  rmsnorm_backward(dx, g.of(w.norm), a.dh.data(), a.x_final.data(), w.norm.data, n, H, eps_);
}

void TrainModel::layers_backward(float* dx, const Rows& rows, const ModelWeights& w, int64_t l0, int64_t l1,
                                 float bal_coef, const TrainActs& a, const GradSink& g) const {
  for (int64_t l = l1; l-- > l0;)
    block_backward(dx, rows, w.layers[size_t(l)], ctx_, bal_coef, a.blocks[size_t(l - l0)], g);
}

void TrainModel::embed_backward(const TokenRows& batch, const ModelWeights& w, const float* dx,
                                const GradSink& g) const {
  scatter_embed_grad(g.of(w.embed_tokens), batch.tokens.data(), batch.B * batch.T, dx);
}

void TrainModel::mtp_forward(int64_t k, const TokenRows& batch, const ModelWeights& w, const float* prev,
                             int64_t prev_T, MtpActs& m) const {
  const MtpWeights& mw = w.mtp[size_t(k - 1)];
  const int64_t B = batch.B, T = batch.T, Tk = T - k, H = cfg_.hidden_size, n = B * Tk;
  m.rows = {B, Tk};
  m.tokens.resize(size_t(n));
  m.targets.assign(size_t(n), -1);
  m.prev.resize(size_t(n * H));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < Tk; ++i) {
      const int64_t r = b * Tk + i;
      m.tokens[size_t(r)] = batch.tokens[size_t(b * T + i + k)];
      if (i + k + 1 < T && batch.target(b, i + k + 1)) m.targets[size_t(r)] = batch.tokens[size_t(b * T + i + k + 1)];
      std::memcpy(&m.prev[size_t(r * H)], prev + (b * prev_T + i) * H, size_t(H) * 4);
    }
  }
  m.emb.resize(size_t(n * H));
  embed_forward(m.emb.data(), m.tokens.data(), n, w.embed_tokens);
  std::vector<float> x(size_t(n * H));
  mtp_input_forward(x.data(), m.emb.data(), m.prev.data(), n, mw, eps_, ctx_.precision, &m.cat);
  block_train_forward(x.data(), m.rows, mw.block, ctx_, m.block);
  m.x_out = x;
  m.h.resize(size_t(n * H));
  rmsnorm(m.h.data(), x.data(), mw.shared_head_norm.data, n, H, eps_);
}

void TrainModel::mtp_backward(int64_t k, const ModelWeights& w, float balance_coef, float* dprev, int64_t prev_T,
                              const MtpActs& m, const GradSink& g) const {
  const MtpWeights& mw = w.mtp[size_t(k - 1)];
  const int64_t B = m.rows.B, Tk = m.rows.T, H = cfg_.hidden_size, n = m.rows.n();
  std::vector<float> dx(size_t(n * H)), dcat(size_t(n * 2 * H)), dhalf(size_t(n * H)), din(size_t(n * H));
  rmsnorm_backward(dx.data(), g.of(mw.shared_head_norm), m.dh.data(), m.x_out.data(), mw.shared_head_norm.data, n, H,
                   eps_);
  block_backward(dx.data(), m.rows, mw.block, ctx_, balance_coef, m.block, g);
  linear_backward(dcat.data(), g, dx.data(), m.cat.data(), n, mw.eh_proj, ctx_.precision);
  // The embedding half.
  for (int64_t r = 0; r < n; ++r) std::memcpy(&dhalf[size_t(r * H)], &dcat[size_t(r * 2 * H)], size_t(H) * 4);
  rmsnorm_backward(din.data(), g.of(mw.enorm), dhalf.data(), m.emb.data(), mw.enorm.data, n, H, eps_);
  scatter_embed_grad(g.of(w.embed_tokens), m.tokens.data(), n, din.data());
  // The previous depth's half.
  for (int64_t r = 0; r < n; ++r) std::memcpy(&dhalf[size_t(r * H)], &dcat[size_t(r * 2 * H + H)], size_t(H) * 4);
  rmsnorm_backward(din.data(), g.of(mw.hnorm), dhalf.data(), m.prev.data(), mw.hnorm.data, n, H, eps_);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tk; ++i) add_inplace(dprev + (b * prev_T + i) * H, &din[size_t((b * Tk + i) * H)], H);
}

}  // namespace dsv3
