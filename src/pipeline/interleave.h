// DualPipe's overlap of a paired forward and backward chunk (the report's §3.2.1, Figure 4) on
// a CPU rank: the two chunks run as two computations, one at a time, handing over at their
// communication points. A chunk that has started an expert all-to-all (dispatch, combine) yields;
// the other computes until it starts one of its own (or finishes), and then the first waits for
// its transfer, which ran meanwhile. The hand-overs happen at the same points of the same code on
// every rank of an expert group, so the order in which they start their collectives is the same
// on all of them (MPI's rule for collectives on one communicator). Only one computation runs at
// any time, so they share the executor's state without locks; each runs on its own thread (the
// helper with the caller's OpenMP thread count, which is per thread).
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>

namespace dsv3::pipeline {

class Interleave {
 public:
  // Runs first on a helper thread and second on this one, `first` until its first yield;
  // returns when both are done. Rethrows the first one's error, else the second's.
  void run(const std::function<void()>& first, const std::function<void()>& second);
  // From inside run(): lets the other computation run until it yields or finishes. No-op
  // outside run() and once the other has finished.
  void yield();

 private:
  void enter(int self);   // waits for the turn
  void finish(int self);  // hands the turn over for good

  std::mutex mutex_;
  std::condition_variable cv_;
  int turn_ = -1;
  bool done_[2] = {true, true};
};

}  // namespace dsv3::pipeline
