// Wall-clock time per operation of a forward pass, for `dsv3 bench --profile`. Off by default:
// a disabled Scope costs one branch. Scopes nest (a layer's "moe" holds its "moe.experts"), so
// each entry is inclusive of its children. Not thread-safe: opened on the thread that runs the
// forward pass, outside parallel regions.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dsv3::profile {

struct Entry {
  std::string op;
  int64_t layer;   // -1: not per layer (the output head)
  double seconds;  // summed over calls
  int64_t calls;
};

void enable(bool on);
bool enabled();
void add(const char* op, int64_t layer, double seconds);
std::vector<Entry> take();  // everything recorded since the last take, in first-seen order

class Scope {
 public:
  explicit Scope(const char* op, int64_t layer = -1) : op_(op), layer_(layer), on_(enabled()) {
    if (on_) t0_ = std::chrono::steady_clock::now();
  }
  ~Scope() {
    if (on_) add(op_, layer_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* op_;
  int64_t layer_;
  bool on_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace dsv3::profile
