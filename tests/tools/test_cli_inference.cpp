// The dsv3 program as acceptance checks run it: `logits`, `generate`, `info` on the fixtures, and
// one clear error line (non-zero exit, no crash) for each kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "damage.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::run_dsv3;

std::string join(const std::vector<int64_t>& v, const char* sep) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? sep : "") << v[i];
  return os.str();
}

struct Expected {
  std::vector<int64_t> tokens, generated;
  std::vector<float> logits, mtp_logits;
};

Expected expected(const std::string& model) {
  SafetensorsFile f(test::model_path(model) + "/expected.safetensors");
  Expected e{tensor_to_i64(*f.find("tokens")), tensor_to_i64(*f.find("generated")), tensor_to_f32(*f.find("logits")), {}};
  if (f.find("mtp_logits")) e.mtp_logits = tensor_to_f32(*f.find("mtp_logits"));
  return e;
}

class CliOnFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(CliOnFixture, LogitsCommandWritesEveryPosition) {
  const Expected e = expected(GetParam());
  test::TempDir d;
  const bool mtp = !e.mtp_logits.empty();
  const auto r = run_dsv3("logits --model " + test::model_path(GetParam()) + " --tokens " + join(e.tokens, ",") +
                          " --out " + d.file("l.bin") + (mtp ? " --mtp-out " + d.file("m.bin") : ""));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto l = test::read_f32_file(d.file("l.bin"));
  ASSERT_EQ(l.size(), e.logits.size());
  EXPECT_LE(test::max_abs_diff(l.data(), e.logits.data(), l.size()), 2e-3f);
  if (mtp) {
    const auto m = test::read_f32_file(d.file("m.bin"));
    ASSERT_EQ(m.size(), e.mtp_logits.size());
    EXPECT_LE(test::max_abs_diff(m.data(), e.mtp_logits.data(), m.size()), 2e-3f);
  }
}

TEST_P(CliOnFixture, GenerateGreedyIds) {
  const Expected e = expected(GetParam());
  const auto r = run_dsv3("generate --model " + test::model_path(GetParam()) + " --tokens " + join(e.tokens, ",") +
                          " --max-new-tokens " + std::to_string(e.generated.size()) + " --temperature 0 --ids");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, join(e.generated, " ") + "\n");
}

TEST_P(CliOnFixture, GenerateBatchEqualsSeparateRuns) {
  const std::string base = "generate --model " + test::model_path(GetParam()) + " --max-new-tokens 6 --ids --tokens ";
  const auto a = run_dsv3(base + "5,9,13,2,7"), b = run_dsv3(base + "300,4"), both = run_dsv3(base + "'5,9,13,2,7;300,4'");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(both.out, a.out + b.out);
}

TEST_P(CliOnFixture, SampledGenerationIsReproducibleBySeed) {
  const std::string base = "generate --model " + test::model_path(GetParam()) + " --tokens 5,9 --max-new-tokens 12 --temperature 1.0 --ids ";
  const auto a = run_dsv3(base + "--seed 7"), b = run_dsv3(base + "--seed 7"), c = run_dsv3(base + "--seed 8");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliOnFixture, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         [](const auto& p) { return std::string(p.param == "v3-tiny" ? "v3" : p.param == "v3-tiny-fp8" ? "v3_fp8" : "v2_lite"); });

TEST(CliInfo, PrintsParametersAndCacheBytes) {
  const auto r = run_dsv3("info --model " + test::model_path("v3-tiny"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 3 layers x (32 latent + 8 rope) floats x 4 bytes
  EXPECT_NE(r.out.find("KV cache per token: 480 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("active per token"), std::string::npos);
  EXPECT_NE(r.out.find("weights read per decoded token"), std::string::npos);
}

// A bad-input run: exit code 1, exactly one line on stderr containing every part, nothing on stdout.
void expect_one_line_error(const std::string& args, std::initializer_list<std::string> parts) {
  const auto r = run_dsv3(args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "'" << p << "' not in: " << r.err;
}

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.file("m");
    test::copy_dir(test::model_path("v3-tiny"), dir_);
  }
  std::string logits_cmd() const { return "logits --model " + dir_ + " --tokens 1,2,3 --out " + tmp_.file("o.bin"); }
  test::TempDir tmp_;
  std::string dir_;
  const std::string q = "model.layers.2.self_attn.kv_b_proj.weight";
};

TEST_F(CliBadInput, TruncatedShard) {
  const std::string shard = test::shard_of(dir_, q);
  test::truncate_file(shard, std::filesystem::file_size(shard) / 2);
  expect_one_line_error(logits_cmd(), {"error:", shard, "truncated"});
}

TEST_F(CliBadInput, HeaderClaimsMoreBytesThanTheFile) {
  const std::string shard = test::shard_of(dir_, q);
  test::overwrite_header_length(shard, std::filesystem::file_size(shard) + 5);
  expect_one_line_error(logits_cmd(), {"error:", shard, "header claims"});
}

TEST_F(CliBadInput, WrongDtype) {
  test::rewrite_shard(test::shard_of(dir_, q), [&](const TensorInfo& t, SafetensorsWriter& w) {
    if (t.name != q) return true;
    w.add(t.name, DType::I16, t.shape, t.data, t.nbytes);
    return false;
  });
  expect_one_line_error(logits_cmd(), {"error:", q, "dtype I16"});
}

TEST_F(CliBadInput, MissingTensor) {
  test::rewrite_shard(test::shard_of(dir_, q), [&](const TensorInfo& t, SafetensorsWriter&) { return t.name != q; });
  expect_one_line_error(logits_cmd(), {"error:", q});
}

TEST_F(CliBadInput, NonJsonConfig) {
  test::write_text(dir_ + "/config.json", "this is not json");
  expect_one_line_error(logits_cmd(), {"error:", "config.json", "not valid JSON"});
}

TEST_F(CliBadInput, BadOptionsAndTokens) {
  expect_one_line_error("logits --model " + dir_ + " --tokens 1,x,3 --out /dev/null", {"'x' is not a token id"});
  expect_one_line_error("logits --model " + dir_ + " --tokens 1,99999 --out /dev/null", {"99999", "vocabulary"});
  expect_one_line_error("logits --model " + dir_ + " --tokens 1 --out /dev/null --bogus 3", {"unknown option --bogus"});
  expect_one_line_error("generate --model " + dir_ + " --tokens 1 --max-new-tokens -2", {"--max-new-tokens"});
  expect_one_line_error("generate --model /nonexistent --tokens 1", {"/nonexistent"});
  expect_one_line_error("logits --model " + dir_ + " --tokens 1", {"missing required option --out"});
}

TEST_F(CliBadInput, MtpOutWithoutMtpModule) {
  expect_one_line_error("logits --model " + test::model_path("v2-lite-tiny") + " --tokens 1,2 --out " + tmp_.file("a") +
                            " --mtp-out " + tmp_.file("b"),
                        {"no MTP module"});
}

TEST_F(CliBadInput, PromptOverTheContext) {
  std::string cfg = test::read_text(dir_ + "/config.json");
  cfg.replace(cfg.find("\"max_position_embeddings\": 163840"), 33, "\"max_position_embeddings\": 4");
  test::write_text(dir_ + "/config.json", cfg);
  expect_one_line_error("generate --model " + dir_ + " --tokens 1,2,3 --max-new-tokens 5", {"exceeds the context of 4"});
  expect_one_line_error("logits --model " + dir_ + " --tokens 1,2,3,4,5 --out /dev/null", {"exceeds the context of 4"});
}

}  // namespace
}  // namespace dsv3
