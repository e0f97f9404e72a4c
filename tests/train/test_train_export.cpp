// Training, export and inference meet in one tensor table (model/tensor_table.h): a trained
// parameter buffer exported and loaded for inference computes what the trainer's own views of it
// compute, for a V3 config (MTP, sigmoid router with bias, FP8 weights) and a V2-style one
// (softmax router, no bias, no q LoRA, no MTP); and the router bias exists in every derived list
// exactly when the table says so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/dtype.h"
#include "core/fp8_blocks.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"
#include "model/model.h"
#include "model/param_count.h"
#include "model/tensor_table.h"
#include "test_util.h"
#include "train/params.h"
#include "train/train_state.h"

namespace dsv3 {
namespace {

ModelConfig fixture_config(const std::string& name) {
  return load_config(test::model_path(name) + "/config.json");
}

// Final-normed states [T, hidden] of one sequence, and the first MTP module's states after them.
std::vector<float> states(const Model& m) {
  const ModelConfig& c = m.config();
  const int64_t T = 9, H = c.hidden_size;
  TokenBatch b;
  for (int64_t t = 0; t < T; ++t) b.add(int32_t((t * 37 + 5) % c.vocab_size), int32_t(t), 0);
  SequenceCache cache = m.new_cache();
  SequenceCache* caches[] = {&cache};
  std::vector<float> h(size_t(T * H));
  m.forward(b, caches, h.data());
  if (m.mtp_depth() == 0) return h;
  TokenBatch next;  // module 1 at positions 0..T-2 reads tokens 1..T-1
  for (int64_t t = 0; t + 1 < T; ++t) next.add(b.tokens[size_t(t + 1)], int32_t(t), 0);
  SequenceCache mc = m.new_mtp_cache();
  SequenceCache* mcs[] = {&mc};
  std::vector<float> hm(size_t((T - 1) * H));
  m.mtp_forward(0, h.data(), next, mcs, hm.data());
  h.insert(h.end(), hm.begin(), hm.end());
  return h;
}

// Trained-looking buffers: random matrices, norms near 1, a router bias that changes routing.
void fill(const ParamLayout& layout, std::vector<float>& params, std::vector<float>& biases) {
  params.resize(size_t(layout.n_params()));
  biases.resize(size_t(layout.n_bias()));
  init_params(layout, 11, 0.05, params.data(), biases.data());
  for (size_t i = 0; i < biases.size(); ++i) biases[i] = 0.01f * float(int(i % 7) - 3);
}

// |a - b| <= tol · max|b| everywhere: float32 sums of the same products in another order.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  float scale = 0.0f;
  for (float v : b) scale = std::max(scale, std::fabs(v));
  EXPECT_LE(test::max_abs_diff(a.data(), b.data(), a.size()), tol * scale);
}

class ExportRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportRoundTrip, ExportedModelLoadsAndComputesWhatTrainingComputes) {
  const ModelConfig cfg = fixture_config(GetParam());
  const ParamLayout layout(cfg);
  std::vector<float> params, biases;
  fill(layout, params, biases);
  test::TempDir dir;
  export_model(dir.path(), layout, params.data(), biases.data(), DType::F32);

  const auto loaded = Model::load(dir.path());
  EXPECT_TRUE(loaded->unused_tensors().empty()) << loaded->unused_tensors().front();
  EXPECT_EQ(count_params(*loaded).total, layout.n_params() + layout.n_bias());
  const Model trained(cfg, layout.bind(params.data(), biases.data()));
  EXPECT_EQ(states(*loaded), states(trained));  // the same float32 weights: the same bits
}

// FP8 as DeepSeek-V3 ships it: linear matrices E4M3 in 128x128 blocks, embedding/head/gate BF16.
// Training's FP8 mode computes with exactly these values (round_params).
TEST(ExportRoundTripFp8, Fp8CheckpointHoldsTrainingsFp8Weights) {
  ModelConfig cfg = fixture_config("v3-tiny");
  const ParamLayout layout(cfg);
  std::vector<float> params, biases, rounded(size_t(layout.n_params()));
  fill(layout, params, biases);
  round_params(layout, params.data(), rounded.data(), Precision::kFP8);

  test::TempDir dir;
  SafetensorsWriter w;
  const TensorTable table(cfg);
  std::vector<Fp8Blocks> keep;
  for (const TensorSpec& t : table.tensors()) {
    if (t.role == TensorRole::kMtpCopy) continue;  // optional on load
    const ParamTensor* p = layout.find(t.name);
    const float* v = (t.role == TensorRole::kBias ? biases.data() : params.data()) + p->offset;
    if (t.role == TensorRole::kLinear) {
      keep.push_back(fp8_encode_blocks(v, t.shape[0], t.shape[1], kFp8BlockSize));
      w.add(t.name, DType::F8_E4M3, t.shape, keep.back().codes.data(), keep.back().codes.size());
      w.add_f32(t.name + "_scale_inv", {(t.shape[0] + kFp8BlockSize - 1) / kFp8BlockSize, (t.shape[1] + kFp8BlockSize - 1) / kFp8BlockSize},
                keep.back().scale_inv.data());
    } else if (t.shape.size() == 2) {
      w.add_bf16(t.name, t.shape, v);
    } else {
      w.add_f32(t.name, t.shape, v);
    }
  }
  w.write(dir.file("model.safetensors"));
  cfg.fp8_quantized = true;
  write_file_atomic(dir.file("config.json"), config_to_json(cfg).dump(1));

  const auto loaded = Model::load(dir.path());
  EXPECT_TRUE(loaded->unused_tensors().empty());
  EXPECT_EQ(loaded->weights().layers[1].self_attn.kv_b_proj.dtype, DType::F8_E4M3);
  const Model trained(cfg, layout.bind(rounded.data(), biases.data()));
  expect_close(states(*loaded), states(trained), 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ExportRoundTrip, ::testing::Values("v3-tiny", "v2-lite-tiny"),
                         [](const auto& p) { return std::string(p.param == "v3-tiny" ? "v3" : "v2_lite"); });

// The router bias: in the table, the trainer's layout and the bound model for noaux_tc; for
// any other method in none of them — a checkpoint that carries one anyway has it listed unused.
TEST(TensorTable, RouterBiasExistsExactlyForNoauxTc) {
  for (const TopkMethod method : {TopkMethod::kNoauxTc, TopkMethod::kGreedy}) {
    ModelConfig cfg = fixture_config("v3-tiny");
    cfg.topk_method = method;
    const bool want = method == TopkMethod::kNoauxTc;
    const std::string bias = layer_prefix(cfg.first_k_dense_replace) + "mlp.gate.e_score_correction_bias";
    const TensorTable table(cfg);
    EXPECT_EQ(table.find(bias) != nullptr, want) << topk_method_name(method);
    if (want) {
      EXPECT_EQ(table.find(bias)->role, TensorRole::kBias);
    }
    const ParamLayout layout(cfg);
    EXPECT_EQ(layout.find(bias) != nullptr, want) << topk_method_name(method);

    // A checkpoint written under noaux_tc (so it has every bias), loaded under `method`.
    ModelConfig with = cfg;
    with.topk_method = TopkMethod::kNoauxTc;
    const ParamLayout full(with);
    std::vector<float> params, biases;
    fill(full, params, biases);
    test::TempDir dir;
    export_model(dir.path(), full, params.data(), biases.data(), DType::F32);
    write_file_atomic(dir.file("config.json"), config_to_json(cfg).dump(1));
    const auto m = Model::load(dir.path());
    const auto& unused = m->unused_tensors();
    EXPECT_EQ(std::count(unused.begin(), unused.end(), bias), want ? 0 : 1) << topk_method_name(method);
    EXPECT_EQ(m->weights().layers[size_t(cfg.first_k_dense_replace)].moe.e_score_correction_bias.empty(), !want);
    EXPECT_EQ(count_params(*m).total, layout.n_params() + layout.n_bias()) << topk_method_name(method);
  }
}

}  // namespace
}  // namespace dsv3
