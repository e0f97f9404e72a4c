// The model against DeepSeek's reference implementation (inference/model.py, float32) on the
// fixture checkpoints: all-position logits, final-normed hidden states, MTP logits, and the
// cached greedy decode (its logits at every step and the ids it picks).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "infer/generator.h"
#include "io/safetensors.h"
#include "kernels/linear.h"
#include "model/model.h"
#include "test_util.h"

namespace dsv3 {
namespace {

// The bound on |ours - reference| for values computed in float32 on both sides, derived from
// the values' magnitude and the arithmetic rather than fixed:
//   tol = kGrowth · sqrt(terms) · u · max|reference|,  u = 2^-24 (float32's unit roundoff).
// Each value ends a chain of sums of products (per layer: the q and kv LoRA down/up products,
// the attention scores and their softmax-weighted sum over the T positions, o_proj, the MLP's
// gate/up and down products, summed over the routed and shared experts; then the head). Both
// sides round every addition, in different orders, so under the usual random-walk model the
// difference grows like u·sqrt(terms), terms = the number of additions along the chain
// (chain_terms). kGrowth covers the two sides (×2), the amplification of a relative error by
// the layers between the sum and the output (RMSNorm's division by the root mean square,
// softmax's exp, SwiGLU's product: factors of a few each) and the random walk's tail
// (several standard deviations over thousands of values): 2 · 4 · 4.
constexpr float kUnitRoundoffF32 = 0x1p-24f;
constexpr float kGrowth = 32.0f;

int64_t chain_terms(const ModelConfig& c, int64_t positions, int64_t layers) {
  const int64_t attention = (c.q_lora_rank > 0 ? c.hidden_size + c.q_lora_rank : c.hidden_size) +  // q
                            c.hidden_size + c.kv_lora_rank +                                         // kv_a, kv_b
                            c.qk_head_dim() + positions +                                            // scores, sum
                            c.num_attention_heads * c.v_head_dim;                                    // o_proj
  const int64_t experts = c.n_routed_experts > 0 ? c.num_experts_per_tok + c.n_shared_experts : 1;
  const int64_t mlp = c.hidden_size + std::max(c.intermediate_size, experts * c.moe_intermediate_size);
  return layers * (attention + mlp) + c.hidden_size;  // + the output head
}

float derived_tolerance(const std::vector<float>& ref, int64_t terms) {
  float scale = 0.0f;
  for (float v : ref) scale = std::max(scale, std::fabs(v));
  return kGrowth * std::sqrt(float(terms)) * kUnitRoundoffF32 * scale;
}

struct Reference {
  std::vector<int32_t> tokens, generated;
  std::vector<float> logits, hidden, mtp_logits, decode_logits;
};

Reference load_reference(const std::string& model) {
  SafetensorsFile f(test::model_path(model) + "/expected.safetensors");
  Reference r;
  for (int64_t t : tensor_to_i64(*f.find("tokens"))) r.tokens.push_back(int32_t(t));
  for (int64_t t : tensor_to_i64(*f.find("generated"))) r.generated.push_back(int32_t(t));
  r.logits = tensor_to_f32(*f.find("logits"));
  r.hidden = tensor_to_f32(*f.find("hidden_final_norm"));
  r.decode_logits = tensor_to_f32(*f.find("decode_logits"));
  if (f.find("mtp_logits")) r.mtp_logits = tensor_to_f32(*f.find("mtp_logits"));
  return r;
}

class ReferenceLogits : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_ = Model::load(test::model_path(GetParam()));
    ref_ = load_reference(GetParam());
  }
  // The logits of the prompt's last position and of every reference step, decoding the
  // reference's tokens one at a time through a cache of the default type.
  std::vector<float> teacher_forced_logits() {
    const int64_t V = model_->config().vocab_size, H = model_->config().hidden_size, G = int64_t(ref_.generated.size());
    SequenceCache cache = model_->new_cache();
    SequenceCache* caches[] = {&cache};
    TokenBatch b;
    for (size_t i = 0; i < ref_.tokens.size(); ++i) b.add(ref_.tokens[i], int32_t(i), 0);
    std::vector<float> hidden(size_t(b.size() * H)), logits(size_t(G * V));
    model_->forward(b, caches, hidden.data());
    std::copy(hidden.end() - H, hidden.end(), hidden.begin());
    for (int64_t g = 0; g < G; ++g) {
      model_->logits(logits.data() + g * V, hidden.data(), 1);
      TokenBatch step;
      step.add(ref_.generated[size_t(g)], int32_t(cache.length()), 0);
      model_->forward(step, caches, hidden.data());
    }
    return logits;
  }
  // Full causal forward of the prompt through a fresh cache.
  void prefill(std::vector<float>& hidden, std::vector<float>& logits) {
    const ModelConfig& c = model_->config();
    const int64_t T = int64_t(ref_.tokens.size());
    TokenBatch b;
    for (int64_t i = 0; i < T; ++i) b.add(ref_.tokens[size_t(i)], int32_t(i), 0);
    SequenceCache cache = model_->new_cache();
    SequenceCache* caches[] = {&cache};
    hidden.resize(size_t(T * c.hidden_size));
    logits.resize(size_t(T * c.vocab_size));
    model_->forward(b, caches, hidden.data());
    model_->logits(logits.data(), hidden.data(), T);
  }
  std::unique_ptr<Model> model_;
  Reference ref_;
};

TEST_P(ReferenceLogits, AllPositionLogitsAndHiddenStates) {
  std::vector<float> hidden, logits;
  prefill(hidden, logits);
  ASSERT_EQ(logits.size(), ref_.logits.size());
  const int64_t terms = chain_terms(model_->config(), int64_t(ref_.tokens.size()), model_->config().num_hidden_layers);
  EXPECT_LE(test::max_abs_diff(hidden.data(), ref_.hidden.data(), hidden.size()), derived_tolerance(ref_.hidden, terms));
  EXPECT_LE(test::max_abs_diff(logits.data(), ref_.logits.data(), logits.size()), derived_tolerance(ref_.logits, terms));
}

// Only the checkpoints with an MTP module have MTP logits to compare (instantiated below).
class ReferenceMtpLogits : public ReferenceLogits {};

TEST_P(ReferenceMtpLogits, MtpLogits) {
  ASSERT_GT(model_->mtp_depth(), 0);
  std::vector<float> hidden, logits;
  prefill(hidden, logits);
  const int64_t T = int64_t(ref_.tokens.size()), H = model_->config().hidden_size, V = model_->config().vocab_size;
  TokenBatch b;
  for (int64_t i = 0; i + 1 < T; ++i) b.add(ref_.tokens[size_t(i + 1)], int32_t(i), 0);
  SequenceCache cache = model_->new_mtp_cache();
  SequenceCache* caches[] = {&cache};
  std::vector<float> mh(size_t((T - 1) * H)), ml(size_t((T - 1) * V));
  model_->mtp_forward(0, hidden.data(), b, caches, mh.data());
  model_->logits(ml.data(), mh.data(), T - 1);
  ASSERT_EQ(ml.size(), ref_.mtp_logits.size());
  // The MTP chain: the main model's layers, then eh_proj (2·hidden terms) and the MTP block.
  const int64_t terms = chain_terms(model_->config(), T, model_->config().num_hidden_layers + 1) + 2 * H;
  EXPECT_LE(test::max_abs_diff(ml.data(), ref_.mtp_logits.data(), ml.size()), derived_tolerance(ref_.mtp_logits, terms));
}

// FP8 decode products on BF16-rounded activations (DecodeMath::Bf16, the default of generate,
// chat and bench) move logits by more than the float32 tolerance but keep the greedy tokens.
TEST_P(ReferenceLogits, GreedyTokensWithBf16DecodeMath) {
  if (std::string(GetParam()).find("fp8") == std::string::npos) GTEST_SKIP() << "no FP8 weights";
  GenerateOptions opt;
  opt.max_new_tokens = int64_t(ref_.generated.size());
  opt.stop_at_eos = false;
  set_decode_math(DecodeMath::Bf16);
  const auto out = generate(*model_, {ref_.tokens}, opt);
  set_decode_math(DecodeMath::F32);
  EXPECT_EQ(out[0], ref_.generated);
}

TEST_P(ReferenceLogits, GreedyDecodeThroughTheCache) {
  const int64_t V = model_->config().vocab_size, G = int64_t(ref_.generated.size());
  std::vector<std::vector<float>> step_logits;
  GenerateOptions opt;
  opt.max_new_tokens = G;
  opt.stop_at_eos = false;
  const auto out = generate(*model_, {ref_.tokens}, opt);
  EXPECT_EQ(out[0], ref_.generated);

  // The logits of every step: decode token by token through the cache.
  SequenceCache cache = model_->new_cache();
  SequenceCache* caches[] = {&cache};
  std::vector<float> hidden(size_t(model_->config().hidden_size)), logits(static_cast<size_t>(V));
  TokenBatch b;
  for (size_t i = 0; i < ref_.tokens.size(); ++i) b.add(ref_.tokens[i], int32_t(i), 0);
  std::vector<float> all_hidden(size_t(b.size() * model_->config().hidden_size));
  model_->forward(b, caches, all_hidden.data());
  const int64_t H = model_->config().hidden_size;
  std::copy_n(all_hidden.end() - H, H, hidden.begin());
  const int64_t terms = chain_terms(model_->config(), int64_t(ref_.tokens.size()) + G, model_->config().num_hidden_layers);
  const float tol = derived_tolerance(ref_.decode_logits, terms);
  for (int64_t g = 0; g < G; ++g) {
    model_->logits(logits.data(), hidden.data(), 1);
    EXPECT_LE(test::max_abs_diff(logits.data(), ref_.decode_logits.data() + g * V, size_t(V)), tol) << "step " << g;
    TokenBatch step;
    step.add(ref_.generated[size_t(g)], int32_t(cache.length()), 0);
    model_->forward(step, caches, hidden.data());
  }
}

// The BF16 and FP8 latent caches (--cache-type): each step's logits within a bound of the float32
// cache's, relative to the logits' largest magnitude, and BF16 (the default of generate, chat,
// serve, bench) keeps every fixture's greedy output. Measured max |difference| / max |logit|:
// BF16 0.26-0.32%; FP8 (E4M3: 2^-4 relative rounding of every c_KV value) 4.1-31% on these random
// tiny fixtures, whose greedy tokens then differ after a few steps: FP8 is opt-in.
TEST_P(ReferenceLogits, LowPrecisionCachesStayNearTheFloat32Cache) {
  const int64_t V = model_->config().vocab_size, G = int64_t(ref_.generated.size());
  // Logits of the prompt's last position and of every generated step through a cache of type t.
  auto decode = [&](CacheType t) {
    const CacheType saved = default_cache_type();
    default_cache_type() = t;
    auto logits = teacher_forced_logits();
    default_cache_type() = saved;
    return logits;
  };
  const auto exact = decode(CacheType::F32);
  float mag = 0.0f;
  for (float x : exact) mag = std::max(mag, std::fabs(x));
  for (const auto& [t, bound] : {std::pair{CacheType::BF16, 0.005f}, std::pair{CacheType::FP8, 0.4f}}) {
    const auto got = decode(t);
    const float err = test::max_abs_diff(got.data(), exact.data(), got.size());
    std::printf("[          ] %s cache: max |logit - f32 cache's| = %.3g (%.3g%% of max |logit| %.3g)\n",
                cache_type_name(t), err, 100.0 * err / mag, mag);
    EXPECT_LE(err, bound * mag) << cache_type_name(t);
    if (t != CacheType::BF16) continue;
    for (int64_t g = 0; g < G; ++g) {
      const float* l = got.data() + g * V;
      EXPECT_EQ(std::max_element(l, l + V) - l, ref_.generated[size_t(g)]) << cache_type_name(t) << " step " << g;
    }
    const CacheType saved = default_cache_type();
    default_cache_type() = t;
    GenerateOptions opt;
    opt.max_new_tokens = G;
    opt.stop_at_eos = false;
    EXPECT_EQ(generate(*model_, {ref_.tokens}, opt)[0], ref_.generated) << cache_type_name(t);
    default_cache_type() = saved;
  }
}

// Decode products on BF16-rounded activations (DecodeMath::Bf16All: BF16 and FP8 weights,
// DeepSeek's reference inference numerics; FP8's are the default of generate, chat and bench) against the exact
// float32 products: every teacher-forced step's logits within 1% of the largest |logit| (measured
// 0.37-0.62%: activations rounded to 8 significant bits at every product). Greedy
// tokens are not asserted for every fixture: these random tiny models' top-1/top-2 gaps are only
// guaranteed >= 1e-3 in float32, under the activations' BF16 rounding (v2-lite-tiny's greedy
// output diverges at step 11; the FP8 fixture's is kept, GreedyTokensWithBf16DecodeMath).
TEST_P(ReferenceLogits, Bf16DecodeMathStaysNearFloat32) {
  const auto exact = teacher_forced_logits();
  set_decode_math(DecodeMath::Bf16All);
  const auto got = teacher_forced_logits();
  set_decode_math(DecodeMath::F32);
  float mag = 0.0f;
  for (float x : exact) mag = std::max(mag, std::fabs(x));
  const float err = test::max_abs_diff(got.data(), exact.data(), got.size());
  std::printf("[          ] bf16 decode math: max |logit - f32's| = %.3g (%.3g%% of max |logit| %.3g)\n", err,
              100.0 * err / mag, mag);
  EXPECT_LE(err, 0.01f * mag);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceLogits, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         [](const auto& param_info) { return test::test_name(param_info.param); });
INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceMtpLogits, ::testing::Values("v3-tiny", "v3-tiny-fp8"),
                         [](const auto& param_info) { return test::test_name(param_info.param); });

}  // namespace
}  // namespace dsv3
