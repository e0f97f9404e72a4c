// The reward that runs an external command (posttrain/command_reward.h): a correct scorer's
// number is the reward; a hang is killed at the timeout, a crash, a non-zero exit or output that
// is not a number fails the sample, scored 0 with the reason on stderr — never an exception.
#include <gtest/gtest.h>

#include <chrono>

#include "posttrain/command_reward.h"
#include "train_test_util.h"

namespace dsv3::posttrain {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

eval::GenItem item(const std::string& prompt, const std::string& answer) {
  eval::GenItem it;
  it.line = 7;
  it.prompt = prompt;
  it.answers = {answer};
  return it;
}

TEST(CommandReward, AScorerScriptReadsTheSampleAndPrintsTheReward) {
  test::TempDir tmp;
  // 1 when the completion is one of the answers; the JSON line is dsv3's compact dump.
  const std::string script = tmp.file("scorer.sh");
  test::write_text(script,
                   "read -r line\n"
                   "answer=$(printf '%s' \"$line\" | sed 's/.*\"answers\":\\[\"\\([^\"]*\\)\".*/\\1/')\n"
                   "case \"$line\" in *\"\\\"completion\\\":\\\"$answer\\\"\"*) echo 1 ;; *) echo 0 ;; esac\n");
  const CommandReward r("sh " + script, 5.0);
  EXPECT_EQ(r.score(item("2+2=", "4"), "4"), 1.0);
  EXPECT_EQ(r.score(item("2+2=", "4"), "5"), 0.0);
  EXPECT_EQ(r.score(item("capital of France:", "Paris"), "Paris"), 1.0);
  EXPECT_EQ(run_reward_command("cat >/dev/null; echo ' 0.25 '", "{}\n", 5.0).reward, 0.25);
  // A command that does not read a large input still runs (the input is a file, not a pipe).
  const CommandResult big = run_reward_command("echo 1", std::string(1 << 20, 'x'), 5.0);
  EXPECT_EQ(big.failure, "");
  EXPECT_EQ(big.reward, 1.0);
}

TEST(CommandReward, AHangIsKilledAtTheTimeout) {
  auto t0 = std::chrono::steady_clock::now();
  CommandResult r = run_reward_command("sleep 5", "", 0.2);
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_NE(r.failure.find("timed out after 0.2 s"), std::string::npos) << r.failure;
  EXPECT_EQ(r.reward, 0.0);
  // The shell's children are killed with it (its process group): the pipe's writers are gone.
  t0 = std::chrono::steady_clock::now();
  r = run_reward_command("sleep 5; echo 1", "", 0.2);
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_NE(r.failure.find("timed out"), std::string::npos) << r.failure;
  // A background process left holding stdout does not hold up a command that has answered.
  t0 = std::chrono::steady_clock::now();
  r = run_reward_command("sleep 5 & echo 1", "", 2.0);
  EXPECT_LT(seconds_since(t0), 1.5);
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.reward, 1.0);
}

TEST(CommandReward, CrashesExitCodesAndNonNumbersFailTheSample) {
  CommandResult r = run_reward_command("echo partial; echo 'no such checker' >&2; exit 1", "", 5.0);
  EXPECT_EQ(r.failure, "exit status 1 (stderr: no such checker)");
  r = run_reward_command("kill -SEGV $$", "", 5.0);
  EXPECT_EQ(r.failure, "killed by signal 11");
  r = run_reward_command("no-such-command-xyz", "", 5.0);
  EXPECT_NE(r.failure.find("exit status 127"), std::string::npos) << r.failure;
  for (const char* out : {"echo yes", "echo", "echo '1 2'", "echo nan", "echo 1e999"}) {
    r = run_reward_command(out, "", 5.0);
    EXPECT_NE(r.failure.find("not one finite number"), std::string::npos) << out << ": " << r.failure;
  }
  // A long traceback: its last line (the exception) is the reason, not a line from its middle.
  r = run_reward_command("i=0; while [ $i -lt 400 ]; do echo \"  frame $i of a long traceback\" >&2; i=$((i+1)); done; "
                         "echo 'ValueError: no answer' >&2; exit 1",
                         "", 5.0);
  EXPECT_EQ(r.failure, "exit status 1 (stderr: ValueError: no answer)");
  // A number followed by more than the kept bytes of output is not one number.
  r = run_reward_command("echo 0.5; head -c 5000 /dev/zero | tr '\\0' x", "", 5.0);
  EXPECT_NE(r.failure.find("printed more than 4096 bytes"), std::string::npos) << r.failure;
}

TEST(CommandReward, AFailedSampleScoresZeroAndLogsWhy) {
  const CommandReward hang("sleep 5", 0.2), crash("exit 3", 5.0);
  testing::internal::CaptureStderr();
  EXPECT_EQ(hang.score(item("p", "a"), "o"), 0.0);
  EXPECT_EQ(crash.score(item("p", "a"), "o"), 0.0);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("line 7 (scored 0): timed out after 0.2 s"), std::string::npos) << err;
  EXPECT_NE(err.find("line 7 (scored 0): exit status 3"), std::string::npos) << err;
}

}  // namespace
}  // namespace dsv3::posttrain
