#include "server/metrics.h"

#include <sstream>

namespace dsv3::server {

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  ++requests_[{endpoint, status}];
}

namespace {
void metric(std::ostringstream& os, const char* name, const char* type, const char* help, double value) {
  os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
}
}  // namespace

std::string Metrics::render() const {
  std::ostringstream os;
  os << "# HELP dsv3_requests_total HTTP requests by endpoint and status.\n# TYPE dsv3_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [key, n] : requests_)
      os << "dsv3_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second << "\"} " << n << '\n';
  }
  metric(os, "dsv3_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", double(prompt_tokens));
  metric(os, "dsv3_generation_tokens_total", "counter", "Generated tokens.", double(generation_tokens));
  metric(os, "dsv3_queue_depth", "gauge", "Requests waiting for a free sequence slot.", double(queue_depth));
  metric(os, "dsv3_running_sequences", "gauge", "Sequences in the running batch.", double(running_sequences));
  metric(os, "dsv3_batch_size", "gauge", "Sequences in the last batched forward step.", double(batch_size));
  metric(os, "dsv3_steps_total", "counter", "Batched forward steps.", double(steps));
  metric(os, "dsv3_step_sequences_total", "counter", "Sum over steps of the sequences in the step.",
         double(step_sequences));
  metric(os, "dsv3_step_rows_total", "counter", "Sum over steps of the token rows in the step.", double(step_rows));
  metric(os, "dsv3_spec_draft_tokens_total", "counter", "MTP draft tokens verified.", double(drafted));
  metric(os, "dsv3_spec_accepted_tokens_total", "counter", "MTP draft tokens accepted.", double(accepted));
  const int64_t d = drafted;
  metric(os, "dsv3_spec_acceptance_rate", "gauge", "Accepted / verified MTP drafts since start (0 before any).",
         d ? double(accepted) / double(d) : 0.0);
  metric(os, "dsv3_cancelled_sequences_total", "counter", "Sequences cancelled (client gone or shutdown).",
         double(cancelled_sequences));
  metric(os, "dsv3_rejected_queue_full_total", "counter", "Requests refused with 429 (queue full).",
         double(rejected_queue_full));
  metric(os, "dsv3_prefix_cache_lookups_total", "counter", "Prompts looked up in the prefix cache.",
         double(prefix_lookups));
  metric(os, "dsv3_prefix_cache_hits_total", "counter", "Prompts that reused cached prefix rows.", double(prefix_hits));
  metric(os, "dsv3_prefix_cache_reused_tokens_total", "counter", "Prompt tokens not prefilled thanks to the cache.",
         double(prefix_reused_tokens));
  metric(os, "dsv3_prefix_cache_blocks", "gauge", "Blocks in the prefix cache.", double(prefix_blocks));
  metric(os, "dsv3_prefix_cache_bytes", "gauge", "Bytes of the prefix cache's blocks.", double(prefix_bytes));
  metric(os, "dsv3_prefix_cache_evicted_blocks_total", "counter", "Blocks evicted (least recently used).",
         double(prefix_evicted_blocks));
  metric(os, "dsv3_sequence_cache_bytes_peak", "gauge",
         "Bytes of latent-cache pages the running sequences held at the step they held most (shared pages once).",
         double(cache_bytes_peak));
  metric(os, "dsv3_sequence_cache_unshared_bytes_peak", "gauge",
         "What the same sequences' latent caches would have taken with a copy of every shared page.",
         double(cache_unshared_bytes_peak));
  return os.str();
}

}  // namespace dsv3::server
