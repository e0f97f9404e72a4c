// MLA's two forms agree: attention through the latent cache with W_UK/W_UV absorbed equals the
// naive form that expands every head's keys and values.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "model/model.h"
#include "test_util.h"

namespace dsv3 {
namespace {

class MlaForms : public ::testing::TestWithParam<std::string> {};

TEST_P(MlaForms, AbsorbedEqualsNaive) {
  const auto model = Model::load(test::model_path(GetParam()));
  const ModelConfig& c = model->config();
  const int64_t T = 37, H = c.hidden_size;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(T * H));
  for (auto& v : x) v = nd(rng);
  const BlockContext ctx = model->block_context();
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const MlaWeights& w = model->weights().layers[size_t(l)].self_attn;
    std::vector<float> naive(x.size()), absorbed(x.size());
    mla_forward(naive.data(), x.data(), Rows{1, T}, w, ctx.mla);  // the form training runs
    SequenceCache cache = model->new_cache();
    cache.ensure(T);
    SequenceCache* caches[] = {&cache};
    std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T), 0);
    for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t);
    mla_forward_cached(absorbed.data(), x.data(), T, w, ctx.mla, {pos.data(), seq.data(), caches, l});
    // The longest sums: over the hidden size (projections), the latent rank (absorption) and the
    // heads' values (o_proj).
    const int64_t terms = std::max({c.hidden_size, c.kv_lora_rank, c.num_attention_heads * c.v_head_dim});
    EXPECT_LE(test::max_abs_diff(naive.data(), absorbed.data(), naive.size()),
              test::float32_tolerance(naive.data(), naive.size(), terms))
        << "layer " << l;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MlaForms, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         [](const auto& p) { return std::string(p.param == "v3-tiny" ? "v3" : p.param == "v3-tiny-fp8" ? "v3_fp8" : "v2_lite"); });

}  // namespace
}  // namespace dsv3
