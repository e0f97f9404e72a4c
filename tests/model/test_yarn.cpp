// YaRN (rope.h) against the reference formulas, recomputed here in double precision in the
// form of HF's DeepseekV3YarnRotaryEmbedding (an extrapolation mask blending freq_extra and
// freq_inter = freq_extra / factor), not the form rope.cpp uses (DeepSeek's inference/model.py);
// against values derived by hand for DeepSeek-V3's own settings; the context extension that
// writes the config (rope_extend.h); and the YaRN-configured fixture, whose logits (from the
// reference) are matched with YaRN and missed without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/rope.h"
#include "model/rope_extend.h"
#include "test_util.h"

namespace dsv3 {
namespace {

// rope_dim = qk_rope_head_dim; the rest of the config is a small valid DeepSeek-V3 shape.
ModelConfig config_with(int64_t rope_dim, int64_t max_pos, const json& rope_scaling) {
  json j = {{"vocab_size", 32},         {"hidden_size", 16},         {"intermediate_size", 32},
            {"num_hidden_layers", 1},   {"num_attention_heads", 2},  {"kv_lora_rank", 8},
            {"qk_nope_head_dim", 128},  {"qk_rope_head_dim", rope_dim}, {"v_head_dim", 8},
            {"n_routed_experts", 0},    {"max_position_embeddings", max_pos}, {"rope_theta", 10000.0},
            {"rope_scaling", rope_scaling}};
  return parse_config(j, "yarn test");
}

json yarn(double factor, int64_t original, double mscale = 1.0, double mscale_all_dim = 1.0) {
  return {{"type", "yarn"}, {"factor", factor}, {"original_max_position_embeddings", original},
          {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", mscale}, {"mscale_all_dim", mscale_all_dim}};
}

// The YaRN inverse frequencies [dim/2] in double precision, HF's formulation.
std::vector<double> reference_freqs(int64_t dim, double base, double factor, double original, double beta_fast,
                                    double beta_slow) {
  auto correction_dim = [&](double rotations) {
    return double(dim) * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(base));
  };
  const double low = std::max(std::floor(correction_dim(beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(beta_slow)), double(dim - 1));
  if (low == high) high += 0.001;
  std::vector<double> out;
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double freq_extra = 1.0 / std::pow(base, double(2 * i) / double(dim));
    const double freq_inter = freq_extra / factor;
    const double extrapolate = 1.0 - std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
    out.push_back(freq_inter * (1 - extrapolate) + freq_extra * extrapolate);
  }
  return out;
}

void expect_freqs_near(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)  // float32 pow, division and blend: a few ulps
    EXPECT_NEAR(got[i], want[i], 1e-6 * want[i]) << "frequency " << i;
}

TEST(Yarn, FrequenciesMatchTheReferenceFormula) {
  // DeepSeek-V3's settings, the default model's extension (256 -> 4096), test_train_fd's config.
  struct Case { int64_t dim, max_pos, original; double factor; };
  for (const Case c : {Case{64, 163840, 4096, 40.0}, Case{16, 4096, 256, 16.0}, Case{8, 64, 16, 4.0}}) {
    const Rope rope(config_with(c.dim, c.max_pos, yarn(c.factor, c.original)));
    expect_freqs_near(rope.freqs(), reference_freqs(c.dim, 10000.0, c.factor, double(c.original), 32, 1));
  }
}

TEST(Yarn, RampBoundsDerivedByHand) {
  // DeepSeek-V3: d = 64, θ = 10⁴, L = 4096: the correction dims are
  // 64·ln(4096/(32·2π))/(2·ln 10⁴) = 10.47 and 64·ln(4096/(2π))/(2·ln 10⁴) = 22.51, so indices
  // 0..10 keep θ^(-2i/d) (many turns within 4K), 23..31 are divided by 40, and 11..22 ramp.
  const Rope v3(config_with(64, 163840, yarn(40.0, 4096)));
  for (int64_t i = 0; i < 32; ++i) {
    const double plain = std::pow(10000.0, -double(2 * i) / 64.0);
    const double ramp = std::clamp((double(i) - 10.0) / 13.0, 0.0, 1.0);  // low 10, high ceil(22.51) = 23
    EXPECT_NEAR(v3.freqs()[size_t(i)], plain * (1 - ramp) + plain / 40.0 * ramp, 1e-6 * plain) << i;
  }
  EXPECT_EQ(v3.freqs()[0], 1.0f);
  // The default model extended 256 -> 4096 (d = 16): bounds 0.21 -> 0 and 3.22 -> 4.
  const Rope small(config_with(16, 4096, yarn(16.0, 256)));
  EXPECT_EQ(small.freqs()[0], 1.0f);
  EXPECT_NEAR(small.freqs()[2], std::pow(1e4, -4.0 / 16) * (0.5 + 0.5 / 16), 1e-7);
  EXPECT_NEAR(small.freqs()[5], std::pow(1e4, -10.0 / 16) / 16, 1e-9);
}

TEST(Yarn, SoftmaxScaleIsMscaleSquared) {
  // DeepSeek-V3: qk_head_dim 192, factor 40, mscale_all_dim 1: m = 0.1·ln 40 + 1 = 1.368888,
  // scale = 192^-1/2 · m² = 0.0721688 · 1.873854 = 0.1352338.
  const ModelConfig v3 = config_with(64, 163840, yarn(40.0, 4096));
  EXPECT_NEAR(attention_softmax_scale(v3), 0.1352338, 1e-7);
  // A factor <= 1 interpolates nothing: no temperature either.
  EXPECT_FLOAT_EQ(attention_softmax_scale(config_with(64, 163840, yarn(0.5, 4096))), float(1.0 / std::sqrt(192.0)));
  // mscale_all_dim 0 (HF's default): no temperature on the softmax.
  EXPECT_FLOAT_EQ(attention_softmax_scale(config_with(64, 163840, yarn(40.0, 4096, 1.0, 0.0))),
                  float(1.0 / std::sqrt(192.0)));
  // mscale_all_dim 0.707 (DeepSeek-V2): m = 0.0707·ln 40 + 1 = 1.260804, m² = 1.589626,
  // scale 0.1147214; `mscale` alone changes nothing (as in the reference).
  EXPECT_NEAR(attention_softmax_scale(config_with(64, 163840, yarn(40.0, 4096, 0.707, 0.707))), 0.1147214, 2e-7);
  EXPECT_EQ(attention_softmax_scale(config_with(64, 163840, yarn(40.0, 4096, 0.5, 0.707))),
            attention_softmax_scale(config_with(64, 163840, yarn(40.0, 4096, 0.707, 0.707))));
}

TEST(Yarn, InactiveWithinTheOriginalContext) {
  // As the reference: YaRN applies only when max_position_embeddings exceeds the original.
  const Rope plain(config_with(16, 256, nullptr)), within(config_with(16, 256, yarn(16.0, 256)));
  EXPECT_EQ(plain.freqs(), within.freqs());
  EXPECT_EQ(attention_softmax_scale(config_with(16, 256, yarn(16.0, 256))),
            attention_softmax_scale(config_with(16, 256, nullptr)));
}

std::string extension_error(const ModelConfig& c, const ContextExtension& e) {
  try {
    extend_context(c, e);
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

TEST(ContextExtension, TwoStagesKeepTheOriginalLength) {
  const ModelConfig base = config_with(16, 1024, nullptr);
  ContextExtension e;
  e.length = 4096;
  e.original = 256;  // trained at 256 although its config allows 1024
  const ModelConfig first = extend_context(base, e);
  EXPECT_TRUE(first.rope_scaling.yarn && first.yarn_active());
  EXPECT_EQ(first.max_position_embeddings, 4096);
  EXPECT_EQ(first.rope_scaling.original_max_position_embeddings, 256);
  EXPECT_EQ(first.rope_scaling.factor, 16.0);
  EXPECT_EQ(first.rope_scaling.mscale, 1.0);
  EXPECT_EQ(first.rope_scaling.mscale_all_dim, 1.0);
  // The config round-trips through config.json, so the checkpoint carries it.
  EXPECT_EQ(config_to_json(parse_config(config_to_json(first), "x")), config_to_json(first));
  // Stage 2: the same target is a no-op; a larger one counts from 256 and keeps β and mscale.
  ContextExtension again;
  again.length = 4096;
  EXPECT_EQ(config_to_json(extend_context(first, again)), config_to_json(first));
  again.length = 8192;
  const ModelConfig second = extend_context(first, again);
  EXPECT_EQ(second.rope_scaling.factor, 32.0);
  EXPECT_EQ(second.rope_scaling.original_max_position_embeddings, 256);
  // Without an original length, the config's context is the original one.
  e.original = 0;
  EXPECT_EQ(extend_context(base, e).rope_scaling.factor, 4.0);
}

TEST(ContextExtension, RefusesWhatItCannotExtend) {
  const ModelConfig base = config_with(16, 1024, nullptr);
  ContextExtension e;
  e.length = 1024;
  EXPECT_EQ(extension_error(base, e), "the extended context (1024 tokens) must be longer than the original one (1024)");
  e.length = 4096;
  e.beta_fast = 0.5;
  EXPECT_EQ(extension_error(base, e), "YaRN needs beta_fast >= beta_slow > 0 (got 0.5 and 1)");
  e.beta_fast = 32;
  e.original = 128;
  const ModelConfig first = extend_context(base, e);
  e.original = 256;
  EXPECT_EQ(extension_error(first, e),
            "the model was already extended with YaRN from 128 tokens; an original context of 256 contradicts it");
  json bad = yarn(4.0, 256);
  bad["beta_slow"] = 0;
  EXPECT_THROW(config_with(16, 1024, bad), Error);
}

// The v3-tiny fixture is YaRN-configured (factor 40 from 4096, as DeepSeek-V3): its reference
// logits are met within the bound of test_reference_logits with YaRN, and missed by far when the
// same weights run with rope_scaling null, so that comparison does test the YaRN code.
TEST(Yarn, FixtureLogitsNeedYarn) {
  SafetensorsFile ref(test::model_path("v3-tiny") + "/expected.safetensors");
  std::vector<int32_t> tokens;
  for (int64_t t : tensor_to_i64(*ref.find("tokens"))) tokens.push_back(int32_t(t));
  const std::vector<float> expected = tensor_to_f32(*ref.find("logits"));
  auto max_diff = [&](const std::string& dir) {
    const auto model = Model::load(dir);
    TokenBatch b;
    for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], int32_t(i), 0);
    SequenceCache cache = model->new_cache();
    SequenceCache* caches[] = {&cache};
    std::vector<float> hidden(size_t(b.size() * model->config().hidden_size)), logits(expected.size());
    model->forward(b, caches, hidden.data());
    model->logits(logits.data(), hidden.data(), b.size());
    return test::max_abs_diff(logits.data(), expected.data(), logits.size());
  };
  EXPECT_LT(max_diff(test::model_path("v3-tiny")), 1e-3f);
  test::TempDir plain;
  test::copy_dir(test::model_path("v3-tiny"), plain.path());
  json cfg = json::parse(test::read_text(plain.file("config.json")));
  cfg["rope_scaling"] = nullptr;
  test::write_text(plain.file("config.json"), cfg.dump());
  EXPECT_GT(max_diff(plain.path()), 0.05f);
}

}  // namespace
}  // namespace dsv3
