// The one thread that owns the model's Batcher. It admits queued jobs between steps while the
// number of running sequences stays within the limit, runs one batched step for everything
// admitted, and drops the sequences of cancelled jobs (freeing their caches) before the next.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "infer/batcher.h"
#include "server/job.h"
#include "server/metrics.h"

namespace dsv3::server {

struct SchedulerOptions {
  int64_t max_sequences = 16;  // running at once (a job of n choices takes n)
  int64_t max_queue = 64;      // jobs waiting; beyond it submit() refuses
  BatcherOptions batcher;
};

class Scheduler {
 public:
  Scheduler(const Model& model, SchedulerOptions opt, Metrics& metrics);
  ~Scheduler();

  // Queues a job; false when the queue is full.
  bool submit(const std::shared_ptr<Job>& job);
  // Its sequences are dropped before the next step (the job's cancel flag is set).
  void cancel(const std::shared_ptr<Job>& job);
  // Cancels every queued and running job (shutdown), then stops the thread.
  void stop();
  int64_t context_length() const { return context_; }
  bool idle() const;

 private:
  struct Running {
    std::shared_ptr<Job> job;
    std::vector<int64_t> ids;
  };
  void loop();
  void admit();            // with mu_ held
  void drop_cancelled();   // with mu_ held
  void retire_finished();  // with mu_ held: forget jobs whose sequences all ended
  void step();

  Batcher batcher_;
  SchedulerOptions opt_;
  Metrics& metrics_;
  int64_t context_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<Running> running_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dsv3::server
