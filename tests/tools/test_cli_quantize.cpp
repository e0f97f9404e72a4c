// dsv3 quantize: block-scaled FP8 copies that load, keep the model's predictions, shard, and
// leave FP8 tensors untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "test_util.h"

namespace dsv3::test {
namespace {

const std::string kDefaultModel = data_path("../../models/default");
const std::string kPrompt = "dog, domestic dog, Canis familiaris: a member of the genus Canis";

std::vector<float> logits(const std::string& model, const std::string& prompt_args, const TempDir& tmp) {
  const std::string out = tmp.file("logits.f32");
  const RunResult r = run_dsv3("logits --model " + model + " " + prompt_args + " --out " + out + " --threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_f32_file(out);
}

TEST(CliQuantize, LinearWeightsBecomeFp8WithBlockScalesAndTheRestKeepsItsDtype) {
  TempDir tmp;
  const RunResult r = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Checkpoint src(model_path("v3-tiny")), q(tmp.file("q"));
  int fp8 = 0;
  for (const std::string& name : src.names()) {
    const TensorInfo* t = q.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, src.find(name)->shape) << name;
    const bool linear = name.find("_proj.weight") != std::string::npos || name.find("_proj_with_mqa.weight") != std::string::npos;
    if (!linear) {
      EXPECT_EQ(t->dtype, src.find(name)->dtype) << name;  // embedding, head, gate, norms, biases
      continue;
    }
    ASSERT_EQ(t->dtype, DType::F8_E4M3) << name;
    const TensorInfo* s = q.find(name + "_scale_inv");
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->shape, (std::vector<int64_t>{(t->shape[0] + 127) / 128, (t->shape[1] + 127) / 128})) << name;
    ++fp8;
  }
  EXPECT_GT(fp8, 20);
  EXPECT_NE(read_text(tmp.file("q/config.json")).find("\"quant_method\": \"fp8\""), std::string::npos);
  const RunResult info = run_dsv3("info --model " + tmp.file("q"));
  EXPECT_NE(info.out.find("FP8"), std::string::npos) << info.out;
}

TEST(CliQuantize, TrainedModelKeepsItsPredictions) {
  TempDir tmp;
  ASSERT_EQ(run_dsv3("quantize --model " + kDefaultModel + " --out " + tmp.file("q")).exit_code, 0);
  const std::string args = "--prompt '" + kPrompt + "'";
  const auto a = logits(kDefaultModel, args, tmp), b = logits(tmp.file("q"), args, tmp);
  ASSERT_EQ(a.size(), b.size());
  const size_t V = 4096, T = a.size() / V;
  double diff = 0, mag = 0;
  size_t agree = 0;
  for (size_t t = 0; t < T; ++t) {
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < V; ++i) {
      diff += std::fabs(a[t * V + i] - b[t * V + i]), mag += std::fabs(a[t * V + i]);
      if (a[t * V + i] > a[t * V + ia]) ia = i;
      if (b[t * V + i] > b[t * V + ib]) ib = i;
    }
    agree += ia == ib;
  }
  EXPECT_LT(diff / mag, 0.03);         // measured 0.008
  EXPECT_GE(double(agree), 0.8 * double(T));  // measured 33 of 35 on a longer prompt
}

TEST(CliQuantize, ShardsLoadLikeOneFile) {
  TempDir tmp;
  ASSERT_EQ(run_dsv3("quantize --model " + kDefaultModel + " --out " + tmp.file("one")).exit_code, 0);
  const RunResult r = run_dsv3("quantize --model " + kDefaultModel + " --out " + tmp.file("sharded") + " --shard-mb 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp.file("sharded/model.safetensors.index.json")));
  EXPECT_TRUE(std::filesystem::exists(tmp.file("sharded/model-00001-of-00004.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(tmp.file("sharded/tokenizer.json")));
  const std::string args = "--prompt 'river:'";
  EXPECT_EQ(logits(tmp.file("one"), args, tmp), logits(tmp.file("sharded"), args, tmp));
}

TEST(CliQuantize, Fp8CheckpointIsCopiedUnchanged) {
  TempDir tmp;
  ASSERT_EQ(run_dsv3("quantize --model " + model_path("v3-tiny-fp8") + " --out " + tmp.file("q")).exit_code, 0);
  const std::string args = "--tokens 5,9,13,200,7";
  EXPECT_EQ(logits(model_path("v3-tiny-fp8"), args, tmp), logits(tmp.file("q"), args, tmp));
}

TEST(CliQuantize, BadInputIsOneClearLine) {
  TempDir tmp;
  copy_dir(model_path("v3-tiny"), tmp.file("m"));
  const RunResult same = run_dsv3("quantize --model " + tmp.file("m") + " --out " + tmp.file("m"));
  EXPECT_NE(same.exit_code, 0);
  EXPECT_NE(same.err.find("--out must not be the --model folder"), std::string::npos) << same.err;
  const RunResult none = run_dsv3("quantize --model " + tmp.file("nothing") + " --out " + tmp.file("o"));
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("config.json"), std::string::npos) << none.err;
  EXPECT_EQ(none.err.find('\n'), none.err.size() - 1) << none.err;
}

}  // namespace
}  // namespace dsv3::test
