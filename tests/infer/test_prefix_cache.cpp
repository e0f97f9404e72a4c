// Prefix caching: prompts that share a prefix with earlier ones decode exactly as without the
// cache (greedy and seeded sampling, plain and MTP-speculative, prompts that diverge inside a
// block, a repeated prompt), restore only the rows they may, and the cache stays within its
// capacity by evicting least recently used blocks.
#include <gtest/gtest.h>

#include <random>

#include "infer/batcher.h"
#include "test_util.h"

namespace dsv3 {
namespace {

// Each prompt runs after the previous one finished (so later ones can reuse earlier prefixes);
// returns every output.
std::vector<std::vector<int32_t>> run_one_by_one(const Model& m, const BatcherOptions& o,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingParams& sp, PrefixCacheStats* stats = nullptr) {
  Batcher b(m, o);
  std::vector<std::vector<int32_t>> out(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    SequenceRequest r;
    r.prompt = prompts[i];
    r.max_new_tokens = 6;
    r.stop_at_eos = false;
    r.sampling = sp;
    r.sampling.seed = sp.seed + i;
    r.on_token = [&out, i](const TokenEvent& e) { return out[i].push_back(e.token), true; };
    b.add(std::move(r));
    while (!b.empty()) b.step();
  }
  if (stats && b.prefix_cache()) *stats = b.prefix_cache()->stats();
  return out;
}

std::vector<std::vector<int32_t>> shared_prefix_prompts(int64_t vocab) {
  std::mt19937 rng(11);
  std::vector<int32_t> system(40);
  for (auto& t : system) t = int32_t(rng() % uint32_t(vocab));
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 2; ++i) {  // 45 and 54 tokens
    std::vector<int32_t> p = system;
    for (int j = 0; j < 5 + 9 * i; ++j) p.push_back(int32_t(rng() % uint32_t(vocab)));
    prompts.push_back(p);
  }
  prompts.push_back(prompts[1]);                                                 // the same prompt again
  prompts.push_back(std::vector<int32_t>(system.begin(), system.begin() + 20));  // a prefix of the prefix
  prompts.push_back(prompts[1]);
  prompts.back()[20] = (prompts.back()[20] + 1) % int32_t(vocab);               // diverges inside block 1
  return prompts;
}

class PrefixCacheTest : public ::testing::TestWithParam<std::tuple<const char*, int64_t, float>> {};

TEST_P(PrefixCacheTest, OutputsEqualThoseWithoutTheCache) {
  const auto [model_name, drafts, temperature] = GetParam();
  const auto model = Model::load(test::model_path(model_name));
  const auto prompts = shared_prefix_prompts(model->config().vocab_size);
  SamplingParams sp;
  sp.temperature = temperature;
  sp.seed = 42;
  BatcherOptions plain;
  plain.draft_tokens = drafts;
  plain.max_prefill_tokens = 32;  // prefills in chunks, as the server does
  BatcherOptions cached = plain;
  cached.prefix_cache_bytes = 64 << 20;
  PrefixCacheStats st;
  EXPECT_EQ(run_one_by_one(*model, cached, prompts, sp, &st), run_one_by_one(*model, plain, prompts, sp));
  EXPECT_EQ(st.lookups, int64_t(prompts.size()));
  EXPECT_EQ(st.hits, int64_t(prompts.size()) - 1);  // all but the first
  // Blocks of 16; a match of m tokens restores min(m, prompt length) - 1 positions:
  // prompt 1 matches prompt 0's 2 blocks (31), prompt 1 again its own 3 blocks (47), the
  // 20-token prefix 1 block (15), the prompt diverging at token 20 1 block (15).
  EXPECT_EQ(st.reused_tokens, 31 + 47 + 15 + 15);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrefixCacheTest,
                         ::testing::Values(std::make_tuple("v3-tiny", 0, 0.0f), std::make_tuple("v3-tiny", 0, 0.9f),
                                           std::make_tuple("v3-tiny-fp8", 2, 0.0f),
                                           std::make_tuple("v3-tiny-fp8", 2, 0.9f)));

TEST(PrefixCache, RestoresAllButTheLastPromptTokenOfAWholeMatch) {
  const auto model = Model::load(test::model_path("v3-tiny"));
  BatcherOptions o;
  o.prefix_cache_bytes = 64 << 20;
  Batcher b(*model, o);
  std::vector<int32_t> prompt(48);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(3 + i);
  for (int pass = 0; pass < 2; ++pass) {
    SequenceRequest r;
    r.prompt = prompt;
    r.max_new_tokens = 2;
    const int64_t id = b.add(std::move(r));
    EXPECT_EQ(b.find(id)->fed, pass == 0 ? 0 : 47);
    EXPECT_EQ(b.find(id)->cache.length(), pass == 0 ? 0 : 47);
    while (!b.empty()) b.step();
  }
}

TEST(PrefixCache, EvictsLeastRecentlyUsedBlocksWithinTheCapacity) {
  const auto model = Model::load(test::model_path("v3-tiny"));
  const SequenceCache c = model->new_cache();
  const int64_t block_bytes = 16 * cache_row_floats(c) * int64_t(sizeof(float));
  BatcherOptions o;
  o.prefix_cache_bytes = 5 * block_bytes;  // five blocks
  const std::vector<std::vector<int32_t>> prompts = {std::vector<int32_t>(48, 7), std::vector<int32_t>(48, 9),
                                                     std::vector<int32_t>(48, 7)};
  PrefixCacheStats st;
  const auto out = run_one_by_one(*model, o, prompts, SamplingParams{}, &st);
  EXPECT_LE(st.bytes, o.prefix_cache_bytes);
  EXPECT_EQ(st.blocks, 5);
  // Prompt 0 stores 3 blocks, prompt 1 three more: prompt 0's last block (least recently used:
  // a chain is touched from its end) goes. Prompt 2 reuses prompt 0's two blocks, stores the
  // third again, and prompt 1's last block goes.
  EXPECT_EQ(st.evicted_blocks, 2);
  EXPECT_EQ(out[0], out[2]);
}

}  // namespace
}  // namespace dsv3
