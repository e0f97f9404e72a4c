// What the pipeline executor is made of, checked in one process against TrainModel::run (no
// MPI): the model run as stages (embedding, layer ranges, head + MTP) gives the same losses and
// gradients to the bit, also when every Linear's weight gradient is deferred to a later W step
// (ZB1P's and DualPipe's B/W split) and when several micro-batches' B run before their W.
#include <gtest/gtest.h>

#include <algorithm>

#include "pipeline/executor.h"
#include "pipeline/interleave.h"
#include "pipeline/stage_params.h"
#include "test_util.h"
#include "train/params.h"
#include "train/weight_grad.h"

namespace dsv3 {
namespace {

struct StepData {
  ModelConfig cfg = load_config(test::data_path("pipeline/tiny8.json"));
  ParamLayout layout{cfg};
  std::vector<float> params = std::vector<float>(size_t(layout.n_params()));
  std::vector<float> biases = std::vector<float>(size_t(layout.n_bias()));
  std::vector<TokenRows> batches;
  LossNorm norm;
  Objective obj;
  StepData() {
    init_params(layout, 7, 0.02, params.data(), biases.data());
    for (int m = 0; m < 3; ++m) {
      TokenRows b;
      b.B = 2, b.T = 12;
      for (int i = 0; i < 24; ++i) b.tokens.push_back(int32_t((i * 37 + m * 11 + 5) % cfg.vocab_size));
      norm.add(b, cfg.num_nextn_predict_layers);
      batches.push_back(b);
    }
  }
};

TEST(StageSplit, StagesWithDeferredWeightGradientsEqualOneRun) {
  StepData s;
  const ModelWeights w = s.layout.bind(s.params.data(), s.biases.data());
  TrainModel one(s.cfg, Precision::kF32);
  std::vector<float> g1(s.params.size(), 0.0f);
  const GradSink sink1{s.params.data(), g1.data()};
  StepLosses l1;
  for (const TokenRows& b : s.batches) l1.add(one.run(b, w, s.obj, s.norm, &sink1));

  // Three stages of 3, 3 and 2 layers; each micro-batch's B runs before any W, the W in order.
  TrainModel staged(s.cfg, Precision::kF32);
  const std::vector<pipeline::StageRange> stages = pipeline::stage_ranges({3, 3, 2});
  std::vector<float> g2(s.params.size(), 0.0f);
  const float bal = staged.balance_coef(s.obj, s.norm);
  std::vector<DeferredWeightGrads> deferred(s.batches.size());
  StepLosses l2;
  for (size_t m = 0; m < s.batches.size(); ++m) {
    const TokenRows& b = s.batches[m];
    const Rows rows{b.B, b.T};
    MicroLosses ml(s.cfg.num_hidden_layers, s.cfg.num_nextn_predict_layers);
    std::vector<TrainActs> acts(stages.size());
    std::vector<float> x(size_t(b.B * b.T * s.cfg.hidden_size));
    const GradSink sink{s.params.data(), g2.data(), &deferred[m]};
    staged.embed(x.data(), b, w);
    for (size_t st = 0; st < stages.size(); ++st)
      staged.layers_forward(x.data(), rows, w, stages[st].first, stages[st].end, bal, acts[st], ml);
    staged.head_forward(x.data(), b, w, s.obj, s.norm, &sink, acts.back(), ml);
    staged.head_backward(x.data(), w, bal, acts.back(), sink);
    for (size_t st = stages.size(); st-- > 0;)
      staged.layers_backward(x.data(), rows, w, stages[st].first, stages[st].end, bal, acts[st], sink);
    staged.embed_backward(b, w, x.data(), sink);
    EXPECT_FALSE(deferred[m].empty());
    l2.add(ml.sum(w, s.obj.lambda_mtp));
  }
  for (DeferredWeightGrads& d : deferred) d.run();

  EXPECT_EQ(l1.total, l2.total);
  EXPECT_EQ(l1.main, l2.main);
  EXPECT_EQ(l1.mtp, l2.mtp);
  EXPECT_EQ(l1.balance, l2.balance);
  EXPECT_EQ(l1.load, l2.load);
  EXPECT_GT(l1.balance, 0.0);
  size_t differ = 0;
  for (size_t i = 0; i < g1.size(); ++i) differ += g1[i] != g2[i];
  EXPECT_EQ(differ, 0u) << "of " << g1.size() << " gradient values";
}

// A paired F&B's two chunks take turns at their yields (their all-to-alls), the first one
// first, one at a time; when one finishes the other runs to its end; errors come back.
TEST(Interleave, ChunksTakeTurnsAtTheirYields) {
  pipeline::Interleave pair;
  std::vector<std::string> order;
  pair.run([&] { order.push_back("F1"); pair.yield(); order.push_back("F2"); pair.yield(); order.push_back("F3"); },
           [&] { order.push_back("B1"); pair.yield(); order.push_back("B2"); });
  EXPECT_EQ(order, std::vector<std::string>({"F1", "B1", "F2", "B2", "F3"}));
  pair.yield();  // outside run(): nothing to hand over to
  EXPECT_THROW(pair.run([&] { pair.yield(); fail("forward failed"); }, [&] { pair.yield(); pair.yield(); }), Error);
}

TEST(StageSplit, StageRanges) {
  const auto r = pipeline::stage_ranges({2, 1, 3});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].first, 2);
  EXPECT_EQ(r[1].end, 3);
  EXPECT_EQ(r[2].end, 6);
}

// Which ranks hold a tensor: the ranks running a stage that reads it, for every direction.
TEST(StageParams, HoldersFollowTheSchedulesPlacement) {
  const ModelConfig cfg = load_config(test::data_path("pipeline/tiny8.json"));  // 8 layers + 1 MTP
  const ParamLayout whole(cfg);
  auto holders = [&](pipeline::ScheduleKind k, int P, const std::string& name) {
    const pipeline::Schedule s = pipeline::make_schedule(k, P, 2 * P);
    const std::vector<int> layers(size_t(s.stages), 8 / s.stages);
    return pipeline::tensor_holders(cfg, s, layers)[size_t(whole.find(name)->index)];
  };
  using V = std::vector<int>;
  const std::string embed = "model.embed_tokens.weight", layer3 = "model.layers.3.self_attn.o_proj.weight";
  const std::string mtp = "model.layers.8.eh_proj.weight";
  EXPECT_EQ(holders(pipeline::ScheduleKind::k1F1B, 4, layer3), V({1}));
  EXPECT_EQ(holders(pipeline::ScheduleKind::k1F1B, 4, embed), V({0, 3}));  // the first stage and the MTP module
  EXPECT_EQ(holders(pipeline::ScheduleKind::k1F1B, 4, "lm_head.weight"), V({3}));
  EXPECT_EQ(holders(pipeline::ScheduleKind::kZB1P, 4, mtp), V({3}));
  EXPECT_EQ(holders(pipeline::ScheduleKind::kDualPipe, 4, layer3), V({1, 2}));  // stage 1 of both directions
  EXPECT_EQ(holders(pipeline::ScheduleKind::kDualPipe, 4, embed), V({0, 3}));
  EXPECT_EQ(holders(pipeline::ScheduleKind::kDualPipeV, 2, embed), V({0}));  // both ends of the V on rank 0
  EXPECT_EQ(holders(pipeline::ScheduleKind::kDualPipeV, 2, "model.layers.4.mlp.gate.weight"), V({1}));
  EXPECT_EQ(holders(pipeline::ScheduleKind::kDualPipeV, 2, mtp), V({0}));
  EXPECT_THROW(pipeline::stages_using("model.unknown.weight", cfg, pipeline::stage_ranges({4, 4})), Error);
}

// A stage's layout holds its tensors only, initialised to the values the whole model's have.
TEST(StageParams, AStagesLayoutHoldsItsTensorsWithTheWholeModelsValues) {
  StepData s;
  const pipeline::Schedule sched = pipeline::make_schedule(pipeline::ScheduleKind::k1F1B, 4, 4);
  const auto holders = pipeline::tensor_holders(s.cfg, sched, {2, 2, 2, 2});
  int64_t total = 0;
  for (int rank = 0; rank < 4; ++rank) {
    const ParamLayout mine(s.cfg, ExpertShare::all(), [&](const std::string& n) {
      const auto& h = holders[size_t(s.layout.find(n)->index)];
      return std::find(h.begin(), h.end(), rank) != h.end();
    });
    total += mine.n_params();
    EXPECT_LT(mine.n_params(), s.layout.n_params() / 2);
    EXPECT_EQ(mine.n_bias(), s.layout.n_bias());
    std::vector<float> p(size_t(mine.n_params())), b(size_t(mine.n_bias()));
    init_params(mine, 7, 0.02, p.data(), b.data());
    for (const ParamTensor& t : mine.params()) {
      const ParamTensor* w = s.layout.find(t.name);
      ASSERT_TRUE(std::equal(p.begin() + t.offset, p.begin() + t.offset + t.size, s.params.begin() + w->offset)) << t.name;
    }
    const ModelWeights bound = mine.bind(p.data(), b.data());
    EXPECT_EQ(bound.layers[0].self_attn.o_proj.data != nullptr, rank == 0);
    EXPECT_EQ(bound.embed_tokens.data != nullptr, rank == 0 || rank == 3);
  }
  // Only the embedding is held twice (the first stage and the MTP module).
  EXPECT_EQ(total, s.layout.n_params() + s.layout.find("model.embed_tokens.weight")->size);
}

}  // namespace
}  // namespace dsv3
