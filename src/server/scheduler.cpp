#include "server/scheduler.h"

#include <algorithm>

#include "core/error.h"
#include "core/parallel.h"

namespace dsv3::server {

Scheduler::Scheduler(const Model& model, SchedulerOptions opt, Metrics& metrics)
    : batcher_(model, opt.batcher), opt_(opt), metrics_(metrics), context_(batcher_.context_length()) {
  // OpenMP's thread count is per thread: the model runs on this new thread, so it takes the
  // count its creator set (--threads), not the default of every core.
  const int threads = num_threads();
  thread_ = std::thread([this, threads] {
    set_num_threads(threads);
    loop();
  });
}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_ || int64_t(queue_.size()) >= opt_.max_queue) return false;
  queue_.push_back(job);
  metrics_.queue_depth = int64_t(queue_.size());
  cv_.notify_all();
  return true;
}

void Scheduler::cancel(const std::shared_ptr<Job>& job) {
  job->cancel();
  std::lock_guard<std::mutex> lk(mu_);
  cv_.notify_all();
}

bool Scheduler::idle() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.empty() && running_.empty();
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    for (auto& j : queue_) j->cancel();
    for (auto& r : running_) r.job->cancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Scheduler::drop_cancelled() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (!(*it)->cancelled()) {
      ++it;
      continue;
    }
    (*it)->fail("cancelled");
    it = queue_.erase(it);
  }
  for (auto& r : running_)
    if (r.job->cancelled())
      for (int64_t id : r.ids) batcher_.cancel(id);  // on_finish(kCancelled): the job sees it finished
  retire_finished();
}

void Scheduler::retire_finished() {
  for (const Running& r : running_)
    if (r.job->finished() && r.job->cancelled()) metrics_.cancelled_sequences += int64_t(r.ids.size());
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](const Running& r) { return r.job->finished(); }),
                 running_.end());
  metrics_.running_sequences = batcher_.size();
}

void Scheduler::admit() {
  // First come, first served: a job waits until all of its n choices fit.
  while (!queue_.empty() && batcher_.size() + queue_.front()->n() <= opt_.max_sequences) {
    Running r{queue_.front(), {}};
    queue_.pop_front();
    try {
      for (auto& req : r.job->sequence_requests()) r.ids.push_back(batcher_.add(std::move(req)));
    } catch (const Error& e) {  // validated by the HTTP layer already; kept as a safety net
      for (int64_t id : r.ids) batcher_.cancel(id);
      r.job->fail(e.what());
      continue;
    }
    running_.push_back(std::move(r));
  }
  metrics_.queue_depth = int64_t(queue_.size());
  metrics_.running_sequences = batcher_.size();
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        return stopping_ || !batcher_.empty() || !queue_.empty() ||
               std::any_of(running_.begin(), running_.end(), [](const Running& r) { return r.job->cancelled(); });
      });
      drop_cancelled();
      if (stopping_ && batcher_.empty()) {
        for (auto& j : queue_) j->fail("the server is shutting down");
        queue_.clear();
        return;
      }
      admit();
    }
    if (!batcher_.empty()) step();
  }
}

void Scheduler::step() {
  const StepStats st = batcher_.step();
  ++metrics_.steps;
  metrics_.batch_size = st.sequences;
  metrics_.step_sequences += st.sequences;
  metrics_.step_rows += st.rows;
  metrics_.generation_tokens += st.emitted;
  metrics_.drafted += st.drafted;
  metrics_.accepted += st.accepted;
  if (st.cache_unshared_bytes > metrics_.cache_unshared_bytes_peak) {  // both from the step holding the most
    metrics_.cache_unshared_bytes_peak = st.cache_unshared_bytes;
    metrics_.cache_bytes_peak = st.cache_bytes;
  }
  if (const PrefixCache* pc = batcher_.prefix_cache()) {
    const PrefixCacheStats& p = pc->stats();
    metrics_.prefix_lookups = p.lookups;
    metrics_.prefix_hits = p.hits;
    metrics_.prefix_reused_tokens = p.reused_tokens;
    metrics_.prefix_blocks = p.blocks;
    metrics_.prefix_bytes = p.bytes;
    metrics_.prefix_evicted_blocks = p.evicted_blocks;
  }
  if (st.finished) {
    std::lock_guard<std::mutex> lk(mu_);
    retire_finished();
  }
}

}  // namespace dsv3::server
