#include "infer/generator.h"

#include "core/error.h"

namespace dsv3 {

std::vector<std::vector<int32_t>> generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opt, GenerateStats* stats,
                                           const TokenCallback& on_token) {
  const int64_t B = int64_t(prompts.size());
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(B));
  GenerateStats st;
  BatcherOptions bo;
  bo.draft_tokens = opt.draft_tokens;
  bo.observer = opt.observer;
  bo.in_flight = opt.in_flight;
  Batcher batcher(model, bo);
  for (int64_t s = 0; s < B; ++s) {
    if (prompts[size_t(s)].empty()) fail("prompt ", s, " is empty");
    st.prompt_tokens += int64_t(prompts[size_t(s)].size());
    if (opt.max_new_tokens <= 0) continue;
    SequenceRequest r;
    r.prompt = prompts[size_t(s)];
    r.max_new_tokens = opt.max_new_tokens;
    r.sampling = opt.sampling;
    r.sampling.seed = opt.sampling.seed + uint64_t(s);
    r.stop_at_eos = opt.stop_at_eos;
    if (opt.constraint) r.constraint = opt.constraint();
    r.on_token = [&out, &on_token, s](const TokenEvent& ev) {
      out[size_t(s)].push_back(ev.token);
      return !on_token || on_token(s, ev.token);
    };
    try {
      batcher.add(std::move(r));
    } catch (const Error& e) {
      fail("prompt ", s, ": ", e.what());
    }
  }
  while (!batcher.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    const StepStats ss = batcher.step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    (ss.prefill_rows ? st.prefill_seconds : st.decode_seconds) += dt;
    ++st.steps;
    st.sequence_steps += ss.sequences;
    st.generated_tokens += ss.emitted;
    st.drafted += ss.drafted;
    st.accepted += ss.accepted;
  }
  if (stats) *stats = st;
  return out;
}

}  // namespace dsv3
