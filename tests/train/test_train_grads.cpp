// The training objective and gradients against DeepSeek's reference (PyTorch autograd over
// inference/model.py, float32) on the v3-tiny fixture, in process and through `dsv3 grads`;
// and the training forward against the inference forward on every fixture checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "io/safetensors.h"
#include "model/model.h"
#include "test_util.h"
#include "train/model_train.h"

namespace dsv3 {
namespace {

struct Fixture {
  TokenRows batch;
  std::vector<float> loss;  // L, L_main, L_mtp, L_bal
};

Fixture load_fixture() {
  SafetensorsFile f(test::model_path("v3-tiny") + "/expected_grads.safetensors");
  const TensorInfo* t = f.find("tokens");
  Fixture fx;
  fx.batch.B = t->shape[0];
  fx.batch.T = t->shape[1];
  for (int64_t v : tensor_to_i64(*t)) fx.batch.tokens.push_back(int32_t(v));
  fx.loss = tensor_to_f32(*f.find("loss"));
  return fx;
}

double rel_err(const float* a, const float* ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Every gradient tensor and the four losses of `got` against the fixture file.
void expect_matches_reference(const SafetensorsFile& got, size_t* compared) {
  SafetensorsFile ref(test::model_path("v3-tiny") + "/expected_grads.safetensors");
  const auto loss = tensor_to_f32(*got.find("loss")), ref_loss = tensor_to_f32(*ref.find("loss"));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(loss[size_t(i)], ref_loss[size_t(i)], 1e-4 * std::fabs(ref_loss[size_t(i)])) << i;
  *compared = 0;
  for (const TensorInfo& r : ref.tensors()) {
    if (r.name.rfind("grad.", 0) != 0) continue;
    const TensorInfo* g = got.find(r.name);
    ASSERT_NE(g, nullptr) << r.name;
    ASSERT_EQ(g->shape, r.shape) << r.name;
    const auto gv = tensor_to_f32(*g), rv = tensor_to_f32(r);
    EXPECT_LE(rel_err(gv.data(), rv.data(), int64_t(rv.size())), 1e-3) << r.name;
    ++*compared;
  }
  EXPECT_EQ(got.tensors().size(), ref.tensors().size() - 1);  // all but `tokens`
}

TEST(TrainGrads, MatchReferenceInProcess) {
  const Fixture fx = load_fixture();
  const std::string dir = test::model_path("v3-tiny");
  const ModelConfig cfg = load_config(dir + "/config.json");
  const ParamLayout layout(cfg);
  std::vector<float> params(size_t(layout.n_params())), biases(size_t(layout.n_bias()));
  std::vector<float> grads(size_t(layout.n_params()), 0.0f);
  load_params(layout, dir, params.data(), biases.data());
  const ModelWeights w = layout.bind(params.data(), biases.data());
  LossNorm norm;
  norm.add(fx.batch, 1);
  TrainModel model(cfg, Precision::kF32);
  const GradSink sink{params.data(), grads.data()};
  const StepLosses l = model.run(fx.batch, w, {0.3, 0.01}, norm, &sink);
  const double want[4] = {fx.loss[0], fx.loss[1], fx.loss[2], fx.loss[3]};
  const double got[4] = {l.total, l.main, l.mtp, l.balance};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * std::fabs(want[i])) << i;

  SafetensorsFile ref(dir + "/expected_grads.safetensors");
  for (const ParamTensor& t : layout.params()) {
    const TensorInfo* r = ref.find("grad." + t.name);
    ASSERT_NE(r, nullptr) << t.name;
    const auto rv = tensor_to_f32(*r);
    ASSERT_EQ(int64_t(rv.size()), t.size) << t.name;
    const double e = rel_err(grads.data() + t.offset, rv.data(), t.size);
    EXPECT_LE(e, 1e-3) << t.name;
    EXPECT_GT(std::sqrt(std::inner_product(rv.begin(), rv.end(), rv.begin(), 0.0)), 0.0) << t.name;
  }
  // Without a backward pass, the losses are the same.
  LossNorm n2;
  n2.add(fx.batch, 1);
  const StepLosses f = model.run(fx.batch, w, {0.3, 0.01}, n2, nullptr);
  EXPECT_DOUBLE_EQ(f.total, l.total);
}

TEST(TrainGrads, CommandWritesTheReferenceLayout) {
  test::TempDir tmp;
  const std::string dir = test::model_path("v3-tiny");
  const auto r = test::run_dsv3("grads --model " + dir + " --tokens-file " + dir +
                                "/expected_grads.safetensors --lambda-mtp 0.3 --alpha 0.01 --out " + tmp.file("g.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SafetensorsFile got(tmp.file("g.safetensors"));
  size_t compared = 0;
  expect_matches_reference(got, &compared);
  EXPECT_EQ(compared, 205u);
}

TEST(TrainGrads, CommandRejectsBadInput) {
  test::TempDir tmp;
  const std::string dir = test::model_path("v3-tiny");
  auto r = test::run_dsv3("grads --model " + dir + " --tokens-file " + dir + "/config.json --out " + tmp.file("g"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  r = test::run_dsv3("grads --model " + dir + " --tokens-file " + dir + "/expected.safetensors --out " +
                     tmp.file("g") + " --precision fp16");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("fp16"), std::string::npos) << r.err;
}

// Mean next-token cross-entropy of logits [T, V] against tokens 1..T-1 (from `skip` ahead).
double mean_ce(const std::vector<float>& logits, const std::vector<int32_t>& tokens, int64_t V, int64_t rows, int64_t skip) {
  double s = 0;
  for (int64_t t = 0; t < rows; ++t) {
    const float* z = logits.data() + t * V;
    double mx = z[0], se = 0;
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, double(z[v]));
    for (int64_t v = 0; v < V; ++v) se += std::exp(z[v] - mx);
    s += std::log(se) + mx - z[tokens[size_t(t + skip)]];
  }
  return s / double(rows);
}

// One forward definition: training's losses equal the cross-entropy of the inference logits.
class TrainForward : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainForward, LossesEqualInferenceLogits) {
  const std::string dir = test::model_path(GetParam());
  const auto model = Model::load(dir);
  const ModelConfig& cfg = model->config();
  SafetensorsFile ex(dir + "/expected.safetensors");
  std::vector<int32_t> tokens;
  for (int64_t v : tensor_to_i64(*ex.find("tokens"))) tokens.push_back(int32_t(v));
  const int64_t T = int64_t(tokens.size()), V = cfg.vocab_size, H = cfg.hidden_size;

  TokenBatch tb;
  for (int64_t i = 0; i < T; ++i) tb.add(tokens[size_t(i)], int32_t(i), 0);
  SequenceCache cache = model->new_cache();
  SequenceCache* caches[] = {&cache};
  std::vector<float> hidden(size_t(T * H)), logits(size_t(T * V));
  model->forward(tb, caches, hidden.data());
  model->logits(logits.data(), hidden.data(), T);
  const double main_ref = mean_ce(logits, tokens, V, T - 1, 1);
  double mtp_ref = 0;
  if (model->mtp_depth() > 0) {
    TokenBatch mb;
    for (int64_t i = 0; i + 1 < T; ++i) mb.add(tokens[size_t(i + 1)], int32_t(i), 0);
    SequenceCache mc = model->new_mtp_cache();
    SequenceCache* mcs[] = {&mc};
    std::vector<float> mh(size_t((T - 1) * H)), ml(size_t((T - 1) * V));
    model->mtp_forward(0, hidden.data(), mb, mcs, mh.data());
    model->logits(ml.data(), mh.data(), T - 1);
    mtp_ref = mean_ce(ml, tokens, V, T - 2, 2);
  }

  const ParamLayout layout(cfg);
  std::vector<float> params(size_t(layout.n_params())), biases(size_t(layout.n_bias()));
  load_params(layout, dir, params.data(), biases.data());
  TokenRows batch;
  batch.B = 1;
  batch.T = T;
  batch.tokens = tokens;
  LossNorm norm;
  norm.add(batch, model->mtp_depth());
  TrainModel tm(cfg, Precision::kF32);
  const StepLosses l = tm.run(batch, layout.bind(params.data(), biases.data()), {0.3, 0.0}, norm, nullptr);
  EXPECT_NEAR(l.main, main_ref, 1e-5 * main_ref);
  EXPECT_NEAR(l.mtp, mtp_ref, 1e-5 * std::max(mtp_ref, 1.0));
  EXPECT_EQ(l.balance, 0.0);
  EXPECT_NEAR(l.total, l.main + 0.3 * l.mtp, 1e-9);
}

std::string fixture_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string s = p.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TrainForward, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         fixture_name);

}  // namespace
}  // namespace dsv3
