// Stop strings across token boundaries. Text arrives in pieces (one per token); a stop string
// may start in one piece and end in a later one, so the matcher holds back the longest tail of
// what it has seen that could still become a stop string, and releases the rest. When a stop
// string completes, the text before it is released and the match ends the sequence (the stop
// string itself is not part of the output, as in the OpenAI API).
#pragma once
#include <string>
#include <vector>

namespace dsv3 {

// The length of the longest suffix of `text` that is a proper prefix of one of `markers`: the
// part to hold back while a marker split across pieces could still be completing.
size_t partial_marker_length(const std::string& text, const std::vector<std::string>& markers);

class StopMatcher {
 public:
  StopMatcher() = default;
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings are ignored

  // Appends text and returns what can be shown now. Nothing is released after a stop.
  std::string push(const std::string& text);
  // The end of the output: releases what was held back (unless a stop was found).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace dsv3
