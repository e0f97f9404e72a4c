#include "pipeline/interleave.h"

#include <thread>

#include "core/parallel.h"

namespace dsv3::pipeline {

namespace {
thread_local int t_self = -1;  // 0: run()'s first computation, 1: its second, -1: neither
}

void Interleave::enter(int self) {
  t_self = self;
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return turn_ == self; });
}

void Interleave::finish(int self) {
  {
    std::lock_guard lock(mutex_);
    done_[self] = true;
    turn_ = 1 - self;
  }
  cv_.notify_all();
  t_self = -1;
}

void Interleave::yield() {
  const int self = t_self;
  if (self < 0) return;
  std::unique_lock lock(mutex_);
  if (done_[1 - self]) return;
  turn_ = 1 - self;
  cv_.notify_all();
  cv_.wait(lock, [&] { return turn_ == self; });
}

void Interleave::run(const std::function<void()>& first, const std::function<void()>& second) {
  {
    std::lock_guard lock(mutex_);
    done_[0] = done_[1] = false;
    turn_ = 0;
  }
  std::exception_ptr error[2];
  auto body = [&](int self, const std::function<void()>& f) {
    enter(self);
    try {
      f();
    } catch (...) {
      error[self] = std::current_exception();
    }
    finish(self);
  };
  const int threads = num_threads();
  std::thread helper([&] {
    set_num_threads(threads);
    body(0, first);
  });
  body(1, second);
  helper.join();
  for (const std::exception_ptr& e : error)
    if (e) std::rethrow_exception(e);
}

}  // namespace dsv3::pipeline
