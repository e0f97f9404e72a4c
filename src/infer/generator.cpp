#include "infer/generator.h"

#include "core/error.h"

namespace dsv3 {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::vector<std::vector<int32_t>> generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opt, GenerateStats* stats,
                                           const TokenCallback& on_token) {
  const ModelConfig& cfg = model.config();
  const int64_t B = int64_t(prompts.size()), H = cfg.hidden_size, V = cfg.vocab_size;
  std::vector<SequenceCache> caches;
  std::vector<SequenceCache*> cache_ptrs;
  for (int64_t s = 0; s < B; ++s) {
    if (prompts[size_t(s)].empty()) fail("prompt ", s, " is empty");
    if (int64_t(prompts[size_t(s)].size()) + opt.max_new_tokens > cfg.max_position_embeddings)
      fail("prompt ", s, " (", prompts[size_t(s)].size(), " tokens) plus ", opt.max_new_tokens,
           " new tokens exceeds the context of ", cfg.max_position_embeddings);
    caches.push_back(model.new_cache());
  }
  for (auto& c : caches) cache_ptrs.push_back(&c);
  std::vector<Rng> rngs;
  for (int64_t s = 0; s < B; ++s) rngs.emplace_back(opt.sampling.seed + uint64_t(s));

  std::vector<std::vector<int32_t>> out(static_cast<size_t>(B));
  std::vector<bool> done(size_t(B), opt.max_new_tokens <= 0);
  std::vector<int32_t> next(static_cast<size_t>(B));
  GenerateStats st;

  // Prefill: all prompts in one batch; only each prompt's last row needs logits.
  auto t0 = std::chrono::steady_clock::now();
  TokenBatch batch;
  std::vector<int64_t> last_row(static_cast<size_t>(B));
  for (int64_t s = 0; s < B; ++s) {
    for (size_t i = 0; i < prompts[size_t(s)].size(); ++i) batch.add(prompts[size_t(s)][i], int32_t(i), int32_t(s));
    last_row[size_t(s)] = batch.size() - 1;
  }
  st.prompt_tokens = batch.size();
  std::vector<float> hidden, last(size_t(B * H)), logits(size_t(B * V));
  hidden.resize(size_t(batch.size() * H));
  model.forward(batch, cache_ptrs.data(), hidden.data());
  for (int64_t s = 0; s < B; ++s)
    std::copy_n(hidden.data() + last_row[size_t(s)] * H, H, last.data() + s * H);
  model.logits(logits.data(), last.data(), B);
  st.prefill_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> active;
  for (int64_t step = 0;; ++step) {
    // Sample a token for every active sequence from the logits of its last row.
    active.clear();
    for (int64_t s = 0, row = 0; s < B; ++s) {
      if (done[size_t(s)]) continue;
      const int32_t tok = sample_token(logits.data() + row++ * V, V, opt.sampling, rngs[size_t(s)]);
      out[size_t(s)].push_back(tok);
      ++st.generated_tokens;
      const bool keep = !on_token || on_token(s, tok);
      if (!keep || (opt.stop_at_eos && cfg.is_eos(tok)) || int64_t(out[size_t(s)].size()) >= opt.max_new_tokens)
        done[size_t(s)] = true;
      else
        active.push_back(s), next[size_t(s)] = tok;
    }
    if (active.empty()) break;
    // One decode step: a row per active sequence, one batched forward.
    batch = TokenBatch();
    for (int64_t s : active) batch.add(next[size_t(s)], int32_t(caches[size_t(s)].length()), int32_t(s));
    hidden.resize(size_t(batch.size() * H));
    model.forward(batch, cache_ptrs.data(), hidden.data());
    model.logits(logits.data(), hidden.data(), batch.size());
  }
  st.decode_seconds = seconds_since(t0);
  if (stats) *stats = st;
  return out;
}

}  // namespace dsv3
