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
  // Blocks of 16; a match of m tokens restores min(m, prompt length - 1) positions, with MTP
  // min(m - 1, prompt length - 1): prompt 1 matches prompt 0's 2 blocks (32; MTP 31), prompt 1
  // again its own 3 blocks (48 of its 54 tokens; MTP 47), the 20-token prefix 1 block (16; 15),
  // the prompt diverging at token 20 1 block (16; 15).
  EXPECT_EQ(st.reused_tokens, drafts > 0 ? 31 + 47 + 15 + 15 : 32 + 48 + 16 + 16);
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
  const int64_t block_bytes = model->new_cache().page_bytes();
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

// N sequences on a cached prefix read its pages in place: they hold the same page objects,
// each has its own pages only from where its prompt goes on, and they decode as without the
// cache.
TEST(PrefixCache, SequencesShareTheCachedPagesInPlace) {
  const auto model = Model::load(test::model_path("v3-tiny"));
  const int64_t V = model->config().vocab_size, N = 4;
  std::mt19937 rng(5);
  std::vector<int32_t> system(64);  // 4 pages
  for (auto& t : system) t = int32_t(rng() % uint32_t(V));
  std::vector<std::vector<int32_t>> prompts(size_t(N), system);
  for (auto& p : prompts)
    for (int j = 0; j < 7; ++j) p.push_back(int32_t(rng() % uint32_t(V)));
  const auto run = [&](int64_t cache_bytes, StepStats* prefill) {
    BatcherOptions o;
    o.prefix_cache_bytes = cache_bytes;
    Batcher b(*model, o);
    SequenceRequest first;  // stores the prefix
    first.prompt = system;
    first.max_new_tokens = 1;
    b.add(first);
    while (!b.empty()) b.step();
    std::vector<std::vector<int32_t>> out(static_cast<size_t>(N));
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < N; ++i) {
      SequenceRequest r;
      r.prompt = prompts[size_t(i)];
      r.max_new_tokens = 5;
      r.stop_at_eos = false;
      r.on_token = [&out, i](const TokenEvent& e) { return out[size_t(i)].push_back(e.token), true; };
      ids.push_back(b.add(std::move(r)));
    }
    *prefill = b.step();
    if (cache_bytes > 0) {
      for (int64_t p = 0; p < 4; ++p) {
        for (int64_t i = 1; i < N; ++i) {
          EXPECT_EQ(b.find(ids[size_t(i)])->cache.page(p).get(), b.find(ids[0])->cache.page(p).get()) << "page " << p;
        }
      }
    }
    while (!b.empty()) b.step();
    return out;
  };
  StepStats shared, copied;
  EXPECT_EQ(run(64 << 20, &shared), run(0, &copied));
  // 71 tokens + the first new one: 5 pages a sequence, 4 of them shared when cached.
  const int64_t page = model->new_cache().page_bytes();
  EXPECT_EQ(copied.cache_bytes, N * 5 * page);
  EXPECT_EQ(shared.cache_unshared_bytes, N * 5 * page);
  EXPECT_EQ(shared.cache_bytes, (4 + N) * page);
}

// A sequence whose prompt ends inside a cached page writes into its own copy of that page; the
// cached page keeps its rows for the next sequence.
TEST(PrefixCache, WritingInsideASharedPageCopiesItFirst) {
  const auto model = Model::load(test::model_path("v3-tiny"));
  BatcherOptions o;
  o.prefix_cache_bytes = 64 << 20;
  Batcher b(*model, o);
  std::vector<int32_t> prompt(32);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(5 + 3 * i);
  std::vector<std::vector<int32_t>> out(3);
  for (int pass = 0; pass < 3; ++pass) {
    SequenceRequest r;
    r.prompt = prompt;
    r.max_new_tokens = 4;
    r.stop_at_eos = false;
    r.on_token = [&out, pass](const TokenEvent& e) { return out[size_t(pass)].push_back(e.token), true; };
    const int64_t id = b.add(std::move(r));
    if (pass > 0) {
      const SequenceCache::Page page0 = b.find(id)->cache.page(0), cached = b.find(id)->cache.page(1);
      const std::vector<uint8_t> before = *cached;
      b.step();  // feeds position 31, inside page 1
      EXPECT_EQ(b.find(id)->cache.page(0).get(), page0.get());
      EXPECT_NE(b.find(id)->cache.page(1).get(), cached.get());
      EXPECT_EQ(*cached, before);
    }
    while (!b.empty()) b.step();
  }
  EXPECT_EQ(out[1], out[0]);
  EXPECT_EQ(out[2], out[0]);
}

}  // namespace
}  // namespace dsv3
