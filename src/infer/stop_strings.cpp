#include "infer/stop_strings.h"

#include <algorithm>

namespace dsv3 {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopMatcher::push(const std::string& text) {
  if (stopped_) return {};
  held_ += text;
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Pieces are whole UTF-8 characters, and so is a held-back prefix of a stop string, so the
  // release point is a character boundary.
  const size_t hold = partial_marker_length(held_, stops_);
  std::string out = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return out;
}

size_t partial_marker_length(const std::string& text, const std::vector<std::string>& markers) {
  size_t hold = 0;
  for (const auto& m : markers)
    for (size_t len = m.empty() ? 0 : std::min(m.size() - 1, text.size()); len > hold; --len)
      if (text.compare(text.size() - len, len, m, 0, len) == 0) {
        hold = len;
        break;
      }
  return hold;
}

std::string StopMatcher::flush() {
  std::string out;
  if (!stopped_) out.swap(held_);
  return out;
}

}  // namespace dsv3
