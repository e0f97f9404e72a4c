// Parameter and byte counts (model/param_count.h), now derived from the tensor table, against an
// independent count that walks the bound weight structs the way the counter used to: totals,
// MTP share, active parameters and bytes per token, on every fixture (BF16, FP8, V2-style).
#include <gtest/gtest.h>


#include "kernels/quant_weight.h"
#include "model/param_count.h"
#include "test_util.h"

namespace dsv3 {
namespace {

struct StructTally {
  int64_t params = 0, bytes = 0;
  void add(const Weight& w) {
    if (w.empty()) return;
    params += w.rows * w.cols;
    bytes += int64_t(w.bytes());
    if (w.scale_inv) bytes += ((w.rows + w.block - 1) / w.block) * w.scale_cols * 4;
    if (w.int4) bytes += w.rows * w.int4->groups() * 4;
  }
  void add(const Vec& v) { params += v.size, bytes += v.size * 4; }
  void add(const MlpWeights& m) { add(m.gate_proj), add(m.up_proj), add(m.down_proj); }
  void add(const LayerWeights& l, int64_t experts) {
    add(l.input_layernorm), add(l.post_attention_layernorm);
    const MlaWeights& a = l.self_attn;
    for (const Weight* w : {&a.q_proj, &a.q_a_proj, &a.q_b_proj, &a.kv_a_proj_with_mqa, &a.kv_b_proj, &a.o_proj}) add(*w);
    add(a.q_a_layernorm), add(a.kv_a_layernorm);
    if (!l.is_moe) return add(l.mlp);
    add(l.moe.gate), add(l.moe.e_score_correction_bias), add(l.moe.shared_experts);
    for (int64_t e = 0; e < experts; ++e) add(l.moe.experts[size_t(e)]);
  }
};

class ParamCountFixtures : public ::testing::TestWithParam<std::string> {};

TEST_P(ParamCountFixtures, TableCountsEqualTheWeightStructs) {
  const auto model = Model::load(test::model_path(GetParam()));
  const ModelConfig& c = model->config();
  const ModelWeights& w = model->weights();
  const ParamCount pc = count_params(*model);

  StructTally active;  // one token: one embedding row, top_k routed experts per MoE layer
  active.params += c.hidden_size;
  active.bytes += int64_t(w.embed_tokens.bytes() / size_t(c.vocab_size));
  for (const auto& l : w.layers) active.add(l, c.num_experts_per_tok);
  active.add(w.norm), active.add(w.lm_head);
  EXPECT_EQ(pc.active, active.params);
  EXPECT_EQ(pc.active_bytes, active.bytes);

  StructTally all, mtp;  // every expert; the MTP modules apart (their shared copies not counted)
  all.add(w.embed_tokens);
  for (const auto& l : w.layers) all.add(l, c.n_routed_experts);
  all.add(w.norm), all.add(w.lm_head);
  for (const auto& m : w.mtp) {
    mtp.add(m.enorm), mtp.add(m.hnorm), mtp.add(m.eh_proj), mtp.add(m.shared_head_norm);
    mtp.add(m.block, c.n_routed_experts);
  }
  EXPECT_EQ(pc.total, all.params + mtp.params);
  EXPECT_EQ(pc.mtp, mtp.params);
  int64_t moe = 0;
  for (const auto& l : w.layers) moe += l.is_moe;
  EXPECT_EQ(pc.moe_layers, moe);
  EXPECT_EQ(pc.dense_layers, c.num_hidden_layers - moe);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ParamCountFixtures, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         [](const auto& param_info) { return test::test_name(param_info.param); });

}  // namespace
}  // namespace dsv3
