// MLA's forms agree: attention through the latent cache with W_UK/W_UV absorbed (decode steps)
// and decompressed from the cache (a prompt in one forward) equal the full-sequence form that
// training runs, which expands every head's keys and values.
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
    // Through the cache: the whole prompt in one forward (decompressed: as many rows as
    // positions), then again one row per forward (absorbed: one row over the cached positions).
    for (const int64_t rows_per_call : {T, int64_t(1)}) {
      SequenceCache cache = model->new_cache();
      cache.ensure(T);
      SequenceCache* caches[] = {&cache};
      std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T), 0);
      for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t);
      for (int64_t t0 = 0; t0 < T; t0 += rows_per_call)
        mla_forward_cached(absorbed.data() + t0 * H, x.data() + t0 * H, std::min(rows_per_call, T - t0), w, ctx.mla,
                           {pos.data() + t0, seq.data() + t0, caches, l});
      // The longest sums: over the hidden size (projections), the latent rank (absorption) and
      // the heads' values (o_proj).
      const int64_t terms = std::max({c.hidden_size, c.kv_lora_rank, c.num_attention_heads * c.v_head_dim});
      EXPECT_LE(test::max_abs_diff(naive.data(), absorbed.data(), naive.size()),
                test::float32_tolerance(naive.data(), naive.size(), terms))
          << "layer " << l << ", " << rows_per_call << " rows per forward";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MlaForms, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         [](const auto& p) { return std::string(p.param == "v3-tiny" ? "v3" : p.param == "v3-tiny-fp8" ? "v3_fp8" : "v2_lite"); });

}  // namespace
}  // namespace dsv3
