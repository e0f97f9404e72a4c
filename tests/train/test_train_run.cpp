// `dsv3 train` end to end on a tiny model and a synthetic corpus: a run killed in the middle of
// writing a checkpoint (and one killed at an arbitrary moment) resumes with bit-identical losses
// and weights; results do not depend on the thread count; init + train, generate, plot.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "train_test_util.h"

namespace fs = std::filesystem;

namespace dsv3 {
namespace {

std::string train_args(const std::string& corpus, const std::string& out, int steps, int save_every) {
  return cat("train --config ", test::tiny_config(), " --data ", corpus, " --tokenizer bytes --doc-split blank",
             " --seq-len 32 --micro-batch 4 --batch-tokens 256 --lr 3e-3 --warmup-steps 2 --eval-every 4",
             " --eval-sequences 8 --log-every 0 --steps ", steps, " --save-every ", save_every, " --out ", out);
}

// Every value the training computes (not the timings) of the steps both runs logged.
void expect_same_losses(const std::string& a, const std::string& b, size_t min_lines) {
  const auto la = test::read_metrics_lines(a), lb = test::read_metrics_lines(b);
  ASSERT_EQ(la.size(), lb.size());
  ASSERT_GE(la.size(), min_lines);
  for (size_t i = 0; i < la.size(); ++i) {
    for (const char* k : {"step", "loss", "main", "mtp", "balance", "grad_norm", "lr", "load_max_mean", "eval", "tokens"}) {
      EXPECT_EQ(la[i].contains(k), lb[i].contains(k)) << k;
      if (la[i].contains(k)) {
        EXPECT_EQ(la[i][k], lb[i][k]) << "line " << i << " " << k;
      }
    }
  }
}

TEST(TrainRun, KilledInTheMiddleOfASaveResumesBitIdentically) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 60);
  auto r = test::run_dsv3(train_args(corpus, tmp.file("a"), 10, 2));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  setenv("DSV3_TRAIN_DIE_IN_SAVE", "6", 1);
  r = test::run_dsv3(train_args(corpus, tmp.file("b"), 10, 2));
  unsetenv("DSV3_TRAIN_DIE_IN_SAVE");
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_TRUE(fs::exists(tmp.file("b/trainer_state.safetensors.tmp")));  // the half-written file
  EXPECT_GT(test::read_metrics_lines(tmp.file("b")).size(), 6u);          // logged past the checkpoint

  r = test::run_dsv3(train_args(corpus, tmp.file("b"), 10, 2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  expect_same_losses(tmp.file("a"), tmp.file("b"), 12);
  EXPECT_EQ(test::read_text(tmp.file("a/model.safetensors")), test::read_text(tmp.file("b/model.safetensors")));
  // ... and so are the optimizer moments.
  const SafetensorsFile sa(tmp.file("a/trainer_state.safetensors")), sb(tmp.file("b/trainer_state.safetensors"));
  for (const char* t : {"adam_m", "adam_v", "biases"})
    EXPECT_EQ(tensor_to_f32(*sa.find(t)), tensor_to_f32(*sb.find(t))) << t;
}

// Starts `cmd` and SIGKILLs it after `ms` milliseconds.
void run_and_kill(const std::string& cmd, int ms) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST(TrainRun, KillNineAtAnyMomentResumesBitIdentically) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 60);
  const int steps = 24;
  auto r = test::run_dsv3(train_args(corpus, tmp.file("a"), steps, 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string cmd = std::string(DSV3_BINARY) + " " + train_args(corpus, tmp.file("b"), steps, 1) + " 2>/dev/null";
  // Kill the run twice at moments that land inside it (it saves after every step, so a kill
  // often lands in a save); shorten the delay until the kill comes before the end.
  int kills_mid_run = 0;
  for (int ms = 400; ms >= 5 && kills_mid_run < 2; ms = kills_mid_run ? ms : ms / 2) {
    run_and_kill(cmd, ms);
    const auto lines = fs::exists(tmp.file("b/metrics.jsonl")) ? test::read_metrics_lines(tmp.file("b")) : std::vector<json>{};
    const bool finished = !lines.empty() && lines.back().value("step", 0) == steps;
    if (finished) {
      fs::remove_all(tmp.file("b"));
      continue;
    }
    ++kills_mid_run;
  }
  EXPECT_EQ(kills_mid_run, 2);
  r = test::run_dsv3(train_args(corpus, tmp.file("b"), steps, 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_losses(tmp.file("a"), tmp.file("b"), steps);
  EXPECT_EQ(test::read_text(tmp.file("a/model.safetensors")), test::read_text(tmp.file("b/model.safetensors")));
}

TEST(TrainRun, ThreadCountDoesNotChangeTheNumbers) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 40);
  auto r = test::run_dsv3(train_args(corpus, tmp.file("one"), 3, 0) + " --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_dsv3(train_args(corpus, tmp.file("three"), 3, 0) + " --threads 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_losses(tmp.file("one"), tmp.file("three"), 4);
}

TEST(TrainRun, ResumeRefusesOtherSettings) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 40);
  auto r = test::run_dsv3(train_args(corpus, tmp.file("a"), 2, 0));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_dsv3(train_args(corpus, tmp.file("a"), 2, 0) + " --precision bf16");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("precision"), std::string::npos) << r.err;
}

TEST(TrainRun, InitThenTrainEqualsTrainFromConfigAndGenerateLoadsIt) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 40);
  auto r = test::run_dsv3(cat("init --config ", test::tiny_config(), " --seed 7 --out ", tmp.file("init")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string args = train_args(corpus, tmp.file("x"), 3, 0);
  r = test::run_dsv3(args + " --seed 7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  args = train_args(corpus, tmp.file("y"), 3, 0);
  args.replace(args.find("--config"), std::string("--config ").size() + test::tiny_config().size(), "--init " + tmp.file("init"));
  r = test::run_dsv3(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_losses(tmp.file("x"), tmp.file("y"), 4);
  // The trained folder is an HF checkpoint the inference side loads (MTP copies included).
  r = test::run_dsv3("generate --model " + tmp.file("y") + " --tokens 116,104,101 --max-new-tokens 4 --ids");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ' '), 3) << r.out;
  r = test::run_dsv3("info --model " + tmp.file("y"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("unused"), std::string::npos) << r.out;
}

TEST(TrainRun, PrecisionModesTrainAndPlotDraws) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 40);
  for (const char* p : {"bf16", "fp8"}) {
    const auto r = test::run_dsv3(train_args(corpus, tmp.file(p), 4, 0) + " --precision " + p + " --bf16-moments");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto m = test::read_metrics_lines(tmp.file(p));
    ASSERT_GE(m.size(), 4u);
    EXPECT_LT(m[3]["main"].get<double>(), m[0]["main"].get<double>()) << p;
  }
  auto r = test::run_dsv3("plot --metrics " + tmp.file("bf16") + " --out " + tmp.file("one.svg"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = test::read_text(tmp.file("one.svg"));
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("expert load balance"), std::string::npos);
  EXPECT_NE(svg.find("MoE layer 1"), std::string::npos);  // the MTP block's MoE too
  r = test::run_dsv3("plot --metrics " + tmp.file("bf16") + "," + tmp.file("fp8") + " --labels BF16,FP8 --out " +
                     tmp.file("two.svg"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::read_text(tmp.file("two.svg")).find("FP8 train main"), std::string::npos);
}

}  // namespace
}  // namespace dsv3
