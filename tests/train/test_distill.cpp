// Logit distillation (train/distill.h): the teacher's top-k distribution, the loss against a
// direct transcription of its formula, its gradient in the logits and through the whole model by
// finite differences, and the trainer's step hook on a tiny run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "posttrain_test_util.h"
#include "train/distill.h"

namespace dsv3 {
namespace {

std::vector<float> random_logits(int64_t V, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> z(static_cast<size_t>(V));
  for (float& x : z) x = nd(rng);
  return z;
}

TEST(Distill, TopKIsTheTeachersRenormalisedTemperedSoftmax) {
  const int64_t V = 9, k = 3;
  const double tau = 2.0;
  std::vector<float> u = random_logits(V, 1);
  TopKRecorder rec(2, k, tau);
  rec.row(1, 0, u.data(), V, false);
  const TeacherTopK t = rec.take();
  std::vector<int32_t> order(static_cast<size_t>(V));
  for (int32_t i = 0; i < V; ++i) order[size_t(i)] = i;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return u[size_t(a)] > u[size_t(b)]; });
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += std::exp(u[size_t(order[size_t(j)])] / tau);
  for (int64_t j = 0; j < k; ++j) {
    EXPECT_EQ(t.ids[size_t(k + j)], order[size_t(j)]);
    EXPECT_NEAR(t.q[size_t(k + j)], std::exp(u[size_t(order[size_t(j)])] / tau) / sum, 1e-6);
    EXPECT_EQ(t.ids[size_t(j)], -1);  // row 0 was not visited
  }
}

// ℓ = (1−α)(−log p_y) + α τ² Σ_S q (log q − log p^τ), written out directly.
double direct_loss(const std::vector<float>& z, int32_t y, const TeacherTopK& t, double a, double tau) {
  double lse = 0, lse_t = 0;
  for (float x : z) lse += std::exp(double(x)), lse_t += std::exp(double(x) / tau);
  lse = std::log(lse);
  lse_t = std::log(lse_t);
  double kl = 0;
  for (int64_t j = 0; j < t.k; ++j) kl += t.q[size_t(j)] * (std::log(t.q[size_t(j)]) - (z[size_t(t.ids[size_t(j)])] / tau - lse_t));
  return (1 - a) * (lse - z[size_t(y)]) + a * tau * tau * kl;
}

TEST(Distill, LossAndLogitGradientAgainstTheFormula) {
  const int64_t V = 11;
  for (int64_t k : {int64_t(4), V}) {
    for (double tau : {1.0, 2.5}) {
      const DistillOptions opt{0.3, tau, k};
      std::vector<float> u = random_logits(V, 3), z = random_logits(V, 4);
      TopKRecorder rec(1, k, tau);
      rec.row(0, 0, u.data(), V, false);
      const TeacherTopK t = rec.take();
      const int32_t y = 5;
      const double w = 0.25;
      DistillObjective obj(t, opt, w);
      std::vector<float> g = z;
      const double l = obj.row(0, y, g.data(), V, true);
      EXPECT_NEAR(l, w * direct_loss(z, y, t, opt.alpha, tau), 1e-6);
      for (int64_t v = 0; v < V; ++v) {
        const double h = 1e-3;
        std::vector<float> zp = z, zm = z;
        zp[size_t(v)] += float(h);
        zm[size_t(v)] -= float(h);
        const double step = double(zp[size_t(v)]) - double(zm[size_t(v)]);  // 2h as float32 holds it
        const double fd = w * (direct_loss(zp, y, t, opt.alpha, tau) - direct_loss(zm, y, t, opt.alpha, tau)) / step;
        EXPECT_NEAR(g[size_t(v)], fd, 2e-4) << "k " << k << " tau " << tau << " logit " << v;
      }
    }
  }
}

TEST(Distill, KlVanishesWhenTheStudentIsTheTeacher) {
  const int64_t V = 7;
  std::vector<float> z = random_logits(V, 9);
  TopKRecorder rec(1, V, 1.0);
  rec.row(0, 0, z.data(), V, false);
  DistillObjective obj(rec.take(), {1.0, 1.0, V}, 1.0);  // α = 1: the soft term alone
  std::vector<float> g = z;
  EXPECT_NEAR(obj.row(0, 2, g.data(), V, true), 0.0, 1e-6);
  for (float x : g) EXPECT_NEAR(x, 0.0f, 1e-6f);
}

TEST(Distill, GradientThroughTheModelMatchesFiniteDifferences) {
  const test::DenseProblem pb(21);
  // The teacher: another random model of the same vocabulary, its top-5 at τ = 2.
  test::DenseProblem teacher(22);
  const ModelWeights tw = teacher.layout.bind(teacher.params.data(), teacher.biases.data());
  TrainModel tm(teacher.cfg, Precision::kF32);
  TopKRecorder rec(pb.batch.B * pb.batch.T, 5, 2.0);
  LossNorm norm;
  norm.add(pb.batch, 0);
  tm.run(pb.batch, tw, {0.0, 0.0, &rec}, norm, nullptr);
  const TeacherTopK t = rec.take();
  const double weight = 1.0 / double(norm.main_targets);
  test::check_head_gradient(pb, [&] { return std::make_unique<DistillObjective>(t, DistillOptions{0.6, 2.0, 5}, weight); });
}

TEST(Distill, AlphaZeroIsCrossEntropy) {
  const test::DenseProblem pb(31);
  TopKRecorder rec(pb.batch.B * pb.batch.T, 3, 1.0);
  const ModelWeights w = pb.layout.bind(pb.params.data(), pb.biases.data());
  LossNorm norm;
  norm.add(pb.batch, 0);
  TrainModel m(pb.cfg, Precision::kF32);
  m.run(pb.batch, w, {0.0, 0.0, &rec}, norm, nullptr);
  DistillObjective obj(rec.take(), {0.0, 1.0, 3}, 1.0 / double(norm.main_targets));
  std::vector<float> g_kd, g_ce;
  const double kd = pb.loss(pb.params, obj, &g_kd);
  g_ce.assign(pb.params.size(), 0.0f);
  const GradSink sink{pb.params.data(), g_ce.data()};
  const double ce = m.run(pb.batch, w, {0.0, 0.0}, norm, &sink).main;
  EXPECT_NEAR(kd, ce, 1e-6 * ce);
  for (size_t i = 0; i < g_ce.size(); ++i) ASSERT_NEAR(g_kd[i], g_ce[i], 1e-6f + 1e-4f * std::fabs(g_ce[i])) << i;
}

}  // namespace
}  // namespace dsv3
