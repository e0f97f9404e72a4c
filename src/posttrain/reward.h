// Rule-based rewards for GRPO (DeepSeek-R1 §2.2.2): an accuracy reward that checks the answer
// by the same extraction and comparison as `dsv3 eval --kind gen`, and a format reward for
// putting the reasoning between <think> and </think>. A reward is one class with one function:
// add another (e.g. one that runs a checker program) by deriving from Reward.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "eval/extract.h"
#include "eval/task_file.h"

namespace dsv3::posttrain {

class Reward {
 public:
  virtual ~Reward() = default;
  virtual std::string name() const = 0;
  // The reward of one sampled output (its text, cut at the first stop string) for its task item.
  virtual double score(const eval::GenItem& item, const std::string& output) const = 0;
};

// 1 when the extracted answer matches one of the item's references (eval::answer_matches), else 0.
class AnswerReward : public Reward {
 public:
  explicit AnswerReward(const std::string& rule) : ex_(rule) {}
  std::string name() const override { return "answer"; }
  double score(const eval::GenItem& item, const std::string& output) const override;

 private:
  eval::Extractor ex_;
};

// 1 when the output is "<think>" reasoning "</think>" followed by a non-empty answer, else 0.
class ThinkFormatReward : public Reward {
 public:
  std::string name() const override { return "format"; }
  double score(const eval::GenItem& item, const std::string& output) const override;
};

struct WeightedReward {
  std::shared_ptr<const Reward> reward;
  double weight = 1.0;
};

}  // namespace dsv3::posttrain
