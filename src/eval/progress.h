// The progress line of a long evaluation on stderr: "label  done/total  elapsed  ETA", redrawn
// in place at most a few times a second, and only when stderr is a terminal or `force` is set
// (so logs and test output stay clean).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace dsv3::eval {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();
  void update(int64_t done);  // done of total units so far
  void finish();              // ends the line

  // The line for `done` of `total` after `elapsed` seconds (for tests): the ETA assumes the
  // remaining units take as long on average as the finished ones.
  static std::string line(const std::string& label, int64_t done, int64_t total, double elapsed);

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, open_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// Whether the progress line should be drawn: stderr is a terminal, or DSV3_PROGRESS=1.
bool progress_wanted();

}  // namespace dsv3::eval
