#include "posttrain/reward.h"

#include "eval/gen.h"

namespace dsv3::posttrain {

double AnswerReward::score(const eval::GenItem& item, const std::string& output) const {
  const std::optional<std::string> a = ex_.extract(output);
  return a && eval::answer_matches(*a, item.answers) ? 1.0 : 0.0;
}

double ThinkFormatReward::score(const eval::GenItem&, const std::string& output) const {
  const size_t open = output.find("<think>"), close = output.find("</think>");
  if (open == std::string::npos || close == std::string::npos || close < open) return 0.0;
  return output.find_first_not_of(" \t\r\n", close + 8) != std::string::npos ? 1.0 : 0.0;
}

}  // namespace dsv3::posttrain
