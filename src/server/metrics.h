// Counters of the server in the Prometheus text format (GET /metrics).
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace dsv3::server {

class Metrics {
 public:
  void count_request(const std::string& endpoint, int status);
  std::string render() const;

  std::atomic<int64_t> prompt_tokens{0}, generation_tokens{0};
  std::atomic<int64_t> queue_depth{0}, running_sequences{0}, batch_size{0};  // gauges
  std::atomic<int64_t> steps{0}, step_sequences{0}, step_rows{0};
  std::atomic<int64_t> drafted{0}, accepted{0};
  std::atomic<int64_t> cancelled_sequences{0}, rejected_queue_full{0};
  // Prefix cache (copied from the Batcher's after each step).
  std::atomic<int64_t> prefix_lookups{0}, prefix_hits{0}, prefix_reused_tokens{0};
  std::atomic<int64_t> prefix_blocks{0}, prefix_bytes{0}, prefix_evicted_blocks{0};
  // Latent-cache pages of the running sequences (StepStats) at the step whose sequences held the
  // most pages (counting shared ones once per sequence).
  std::atomic<int64_t> cache_bytes_peak{0}, cache_unshared_bytes_peak{0};

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (endpoint, status) -> count
};

}  // namespace dsv3::server
