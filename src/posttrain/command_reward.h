// A reward computed by an external program (`dsv3 train --rl grpo --reward-command CMD`): a
// checker a user writes in any language (a unit-test runner for code, a symbolic comparer for
// math), as DeepSeek-R1's rule-based rewards run compilers and test cases (§2.2.2).
//
// The interface (docs/post-training.md): for each sampled output, `/bin/sh -c CMD` runs in the
// working directory of dsv3, in its own process group, with one JSON line on stdin:
//     {"prompt": "...", "completion": "...", "answers": ["...", ...], "line": N}
// (the item's prompt and references as the task file has them, the output cut at its stop
// string, the item's line in the task file). It prints the reward, one number, on stdout and
// exits 0. Anything else fails the sample: a timeout (the whole process group is killed), a
// non-zero exit or a signal, output that is not one finite number. A failed sample scores 0 and
// one line on stderr says which item and why; dsv3 itself goes on.
#pragma once
#include <string>

#include "posttrain/reward.h"

namespace dsv3::posttrain {

struct CommandResult {
  double reward = 0.0;
  std::string failure;  // empty: the command succeeded and printed `reward`
};

// Runs `command` under /bin/sh with `input` on stdin, killed after `timeout_s` seconds; reads the
// reward from its stdout. Never throws for what the command does.
CommandResult run_reward_command(const std::string& command, const std::string& input, double timeout_s);

class CommandReward : public Reward {
 public:
  CommandReward(std::string command, double timeout_s) : command_(std::move(command)), timeout_s_(timeout_s) {}
  std::string name() const override { return "command"; }
  double score(const eval::GenItem& item, const std::string& output) const override;

 private:
  std::string command_;
  double timeout_s_;
};

}  // namespace dsv3::posttrain
