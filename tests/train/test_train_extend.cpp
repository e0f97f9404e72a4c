// `dsv3 train --extend-context`: a trained model continues at sequences longer than its context
// with YaRN written into the checkpoint's config, which the inference side then reads; options
// it cannot honour stop the run with one line before any training.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "io/json_file.h"
#include "train_test_util.h"

namespace dsv3 {
namespace {

std::string extend_args(const std::string& corpus, const std::string& init, const std::string& out) {
  return cat("train --init ", init, " --data ", corpus, " --tokenizer bytes --doc-split blank --seq-len 320",
             " --micro-batch 2 --val-fraction 0.2 --lr 1e-3 --warmup-steps 0 --eval-sequences 2 --log-every 0 --steps 2 --out ", out);
}

TEST(TrainExtend, WritesYarnIntoTheCheckpointAndTrainsPastTheOldContext) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 40);
  auto r = test::run_dsv3(cat("init --config ", test::tiny_config(), " --seed 7 --out ", tmp.file("init")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // tiny_v3.json's context is 256 tokens; the run trains on 320-token sequences.
  r = test::run_dsv3(extend_args(corpus, tmp.file("init"), tmp.file("x")) + " --extend-context 1024");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("context: YaRN from 256 to 1024 tokens (factor 4"), std::string::npos) << r.err;
  const json cfg = json::parse(test::read_text(tmp.file("x/config.json")));
  EXPECT_EQ(cfg["max_position_embeddings"], 1024);
  EXPECT_EQ(cfg["rope_scaling"]["type"], "yarn");
  EXPECT_EQ(cfg["rope_scaling"]["factor"], 4.0);
  EXPECT_EQ(cfg["rope_scaling"]["original_max_position_embeddings"], 256);
  EXPECT_EQ(cfg["rope_scaling"]["beta_fast"], 32.0);
  EXPECT_EQ(cfg["rope_scaling"]["beta_slow"], 1.0);
  EXPECT_EQ(cfg["rope_scaling"]["mscale_all_dim"], 1.0);
  EXPECT_EQ(test::read_metrics_lines(tmp.file("x")).back()["step"], 2);
  r = test::run_dsv3("info --model " + tmp.file("x"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("YaRN factor 4 from 256"), std::string::npos) << r.out;
}

TEST(TrainExtend, RefusesWithOneLine) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 4);
  auto r = test::run_dsv3(cat("init --config ", test::tiny_config(), " --seed 7 --out ", tmp.file("init")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string args = extend_args(corpus, tmp.file("init"), tmp.file("x"));
  const std::pair<std::string, std::string> cases[] = {
      {" --extend-context 200", "the extended context (200 tokens) must be longer than the original one (256)"},
      {" --extend-context 300", "--seq-len 320 is longer than --extend-context 300"},
      {" --extend-context 1024 --yarn-beta-fast 0.5", "YaRN needs beta_fast >= beta_slow > 0 (got 0.5 and 1)"},
      {" --original-context 128", "--original-context and --yarn-* need --extend-context N"},
  };
  for (const auto& [extra, message] : cases) {
    r = test::run_dsv3(args + extra);
    EXPECT_NE(r.exit_code, 0) << extra;
    EXPECT_NE(r.err.find(message), std::string::npos) << extra << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  r = test::run_dsv3(cat("train --config ", test::tiny_config(), " --data ", corpus,
                         " --tokenizer bytes --steps 1 --extend-context 1024 --out ", tmp.file("y")));
  EXPECT_NE(r.err.find("--extend-context continues a trained model: give --init DIR"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dsv3
