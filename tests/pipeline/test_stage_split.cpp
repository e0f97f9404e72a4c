// What the pipeline executor is made of, checked in one process against TrainModel::run (no
// MPI): the model run as stages (embedding, layer ranges, head + MTP) gives the same losses and
// gradients to the bit, also when every Linear's weight gradient is deferred to a later W step
// (ZB1P's and DualPipe's B/W split) and when several micro-batches' B run before their W.
#include <gtest/gtest.h>

#include "pipeline/executor.h"
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

TEST(StageSplit, StageRanges) {
  const auto r = pipeline::stage_ranges({2, 1, 3});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].first, 2);
  EXPECT_EQ(r[1].end, 3);
  EXPECT_EQ(r[2].end, 6);
}

}  // namespace
}  // namespace dsv3
