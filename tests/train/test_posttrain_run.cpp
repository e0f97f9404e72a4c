// `dsv3 train --teacher` and `dsv3 train --rl grpo` end to end on a tiny model: they run, log
// their metrics, and a run killed in the middle of a checkpoint resumes bit-identically (GRPO's
// samples are a function of the step). Bad input gets one clear error line; a reward command
// that hangs is killed and its samples fail.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "io/json_file.h"
#include "train_test_util.h"

namespace dsv3 {
namespace {

const char* kCommon = " --seq-len 32 --micro-batch 4 --lr 3e-3 --warmup-steps 1 --log-every 0 --save-every 1";

// A tokenizer of 300 ids, a tiny model trained 3 steps with it (the teacher / the SFT start).
struct Base {
  test::TempDir tmp;
  std::string corpus, config, tok, model;
  Base() {
    corpus = test::write_corpus(tmp, 40);
    tok = tmp.file("tok");
    auto r = test::run_dsv3(cat("tokenizer-train --input ", corpus, " --vocab-size 300 --out ", tok));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json cfg = json::parse(test::read_text(test::tiny_config()));
    cfg["vocab_size"] = 300;
    config = tmp.file("cfg.json");
    test::write_text(config, cfg.dump());
    model = tmp.file("base");
    r = test::run_dsv3(cat("train --config ", config, " --tokenizer ", tok, " --data ", corpus,
                           " --doc-split blank --steps 3", kCommon, " --out ", model));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
};

void expect_same_metrics(const std::string& a, const std::string& b, const std::vector<std::string>& keys) {
  const auto la = test::read_metrics_lines(a), lb = test::read_metrics_lines(b);
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i)
    for (const std::string& k : keys) EXPECT_EQ(la[i].value(k, json()), lb[i].value(k, json())) << "line " << i << " " << k;
  EXPECT_EQ(test::read_text(a + "/model.safetensors"), test::read_text(b + "/model.safetensors"));
}

// Runs `args` into a/ straight, and into b/ killed while saving step 2, then resumed.
void check_resume(const Base& base, const std::string& args, const std::vector<std::string>& keys) {
  auto r = test::run_dsv3(args + " --out " + base.tmp.file("a"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  setenv("DSV3_TRAIN_DIE_IN_SAVE", "2", 1);
  r = test::run_dsv3(args + " --out " + base.tmp.file("b"));
  unsetenv("DSV3_TRAIN_DIE_IN_SAVE");
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  r = test::run_dsv3(args + " --out " + base.tmp.file("b"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  expect_same_metrics(base.tmp.file("a"), base.tmp.file("b"), keys);
}

TEST(PostTrainRun, DistillationRunsAndResumesBitIdentically) {
  Base base;
  const std::string args = cat("train --config ", base.config, " --tokenizer ", base.tok, " --data ", base.corpus,
                               " --doc-split blank --steps 4 --teacher ", base.model, kCommon);
  check_resume(base, args, {"step", "loss", "main", "mtp", "grad_norm"});
  const auto lines = test::read_metrics_lines(base.tmp.file("a"));
  ASSERT_FALSE(lines.empty());
  EXPECT_GT(lines[0].value("main", 0.0), 0.0);
}

TEST(PostTrainRun, GrpoRunsLogsRewardsAndResumesBitIdentically) {
  Base base;
  std::string prompts;
  for (const char* w : {"the cat", "a dog", "my friend", "the river", "every child", "the old man"})
    prompts += json{{"prompt", w}, {"answer", "s"}, {"stop", {"."}}}.dump() + "\n";
  test::write_text(base.tmp.file("p.jsonl"), prompts);
  const std::string args = cat("train --rl grpo --init ", base.model, " --prompts ", base.tmp.file("p.jsonl"),
                               " --prompts-per-step 2 --group 4 --max-new-tokens 6 --answer 'regex:(\\w)'",
                               " --steps 3 --lr 1e-3 --warmup-steps 1 --log-every 0 --save-every 1");
  check_resume(base, args, {"step", "loss", "main", "grad_norm", "reward", "kl", "output_tokens", "flat_groups"});
  const auto lines = test::read_metrics_lines(base.tmp.file("a"));
  ASSERT_EQ(lines.size(), 3u);
  for (const json& l : lines) {
    EXPECT_TRUE(l.contains("reward") && l.contains("kl")) << l.dump();
    EXPECT_GE(l["reward"].get<double>(), 0.0);
    EXPECT_LE(l["reward"].get<double>(), 1.0);
    EXPECT_GT(l["output_tokens"].get<double>(), 0.0);
  }
  EXPECT_EQ(lines[0]["kl"].get<double>(), 0.0);  // step 0: the policy is the reference
}

TEST(PostTrainRun, SequenceDistillationWritesChatAStudentTrainsOn) {
  Base base;
  std::string prompts;
  for (const char* w : {"the cat", "a dog", "my friend", "the river", "every child", "the old man", "a boat", "the hill"})
    prompts += json{{"prompt", w}}.dump() + "\n";
  test::write_text(base.tmp.file("p.jsonl"), prompts);
  auto r = test::run_dsv3(cat("distill --teacher ", base.model, " --prompts ", base.tmp.file("p.jsonl"), " --chat",
                              " --max-new-tokens 6 --out ", base.tmp.file("chat.jsonl")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string chat = test::read_text(base.tmp.file("chat.jsonl"));
  EXPECT_EQ(std::count(chat.begin(), chat.end(), '\n'), 8);
  const json first = json::parse(chat.substr(0, chat.find('\n')));
  EXPECT_EQ(first["messages"][0]["content"], "the cat");
  EXPECT_EQ(first["messages"][1]["role"], "assistant");
  r = test::run_dsv3(cat("train --init ", base.model, " --sft --data ", base.tmp.file("chat.jsonl"),
                         " --val-fraction 0 --seq-len 16 --micro-batch 2 --steps 1 --log-every 0 --out ", base.tmp.file("s")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // --text: {"text": prompt + answer} lines for a plain `train --data`.
  r = test::run_dsv3(cat("distill --teacher ", base.model, " --prompts ", base.tmp.file("p.jsonl"), " --text",
                         " --max-new-tokens 6 --out ", base.tmp.file("text.jsonl")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = test::read_text(base.tmp.file("text.jsonl"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 8);
  EXPECT_EQ(json::parse(text.substr(0, text.find('\n')))["text"].get<std::string>().rfind("the cat", 0), 0u) << text;
  test::write_text(base.tmp.file("bad.jsonl"), "{\"prompt\": \"x\"}\n{\"text\": 1}\n");
  r = test::run_dsv3(cat("distill --teacher ", base.model, " --prompts ", base.tmp.file("bad.jsonl"), " --out ",
                         base.tmp.file("c2.jsonl")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.jsonl:2"), std::string::npos) << r.err;
}

TEST(PostTrainRun, BadInputIsOneClearError) {
  Base base;
  test::write_text(base.tmp.file("bad.jsonl"), "{\"prompt\": \"x\"}\n");
  auto r = test::run_dsv3(cat("train --rl grpo --init ", base.model, " --prompts ", base.tmp.file("bad.jsonl"),
                              " --steps 1 --out ", base.tmp.file("o")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.jsonl:1"), std::string::npos) << r.err;
  // A teacher with another vocabulary.
  r = test::run_dsv3(cat("train --config ", test::tiny_config(), " --tokenizer bytes --data ", base.corpus,
                         " --doc-split blank --steps 1 --teacher ", base.model, " --out ", base.tmp.file("o2")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vocabulary"), std::string::npos) << r.err;
  r = test::run_dsv3(cat("train --rl ppo --init ", base.model, " --prompts x --steps 1 --out ", base.tmp.file("o3")));
  EXPECT_NE(r.err.find("grpo"), std::string::npos) << r.err;
  // A reward command (posttrain/command_reward.h): a scorer's rewards are logged; a hanging one is
  // killed at its timeout and its samples score 0, the run going on.
  test::write_text(base.tmp.file("p.jsonl"), json{{"prompt", "the cat"}, {"answer", "s"}}.dump() + "\n");
  const std::string grpo = cat("train --rl grpo --init ", base.model, " --prompts ", base.tmp.file("p.jsonl"),
                               " --prompts-per-step 1 --group 2 --max-new-tokens 3 --steps 1 --log-every 0");
  r = test::run_dsv3(cat(grpo, " --reward-command 'cat >/dev/null; echo 1' --out ", base.tmp.file("r1")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_metrics_lines(base.tmp.file("r1")).at(0).value("reward", -1.0), 1.0);
  r = test::run_dsv3(cat(grpo, " --reward-command 'sleep 5' --reward-timeout 0.2 --out ", base.tmp.file("r2")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_metrics_lines(base.tmp.file("r2")).at(0).value("reward", -1.0), 0.0);
  EXPECT_NE(r.err.find("reward command failed for the item of line 1 (scored 0): timed out after 0.2 s"),
            std::string::npos)
      << r.err;
  r = test::run_dsv3(cat(grpo, " --reward-timeout 1 --out ", base.tmp.file("r3")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--reward-timeout and --reward-weight go with --reward-command"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dsv3
