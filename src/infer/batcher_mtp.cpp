// The drafting half of MTP speculative decoding (see batcher.h): after verification, the MTP
// rows of every newly verified position, then the drafts of the next step.
#include <algorithm>

#include "infer/batcher.h"

namespace dsv3 {

namespace {

// Drafts worth proposing: the verify step emits at most drafts + 1 tokens, which must fit in
// the sequence's token budget, and its rows must fit in the context.
int64_t draft_budget(const Sequence& s, int64_t draft_tokens, int64_t context) {
  const int64_t left = s.req.max_new_tokens - s.generated() - 1;
  return std::max<int64_t>(0, std::min({draft_tokens, left, context - 1 - s.fed}));
}

}  // namespace

void Batcher::draft(const Rows& rows, const std::vector<float>& hidden) {
  const int64_t H = model_.config().hidden_size, V = model_.config().vocab_size;
  // Depth-0 MTP rows j in [fed0, fed): main state h_j (this step's row for position j) and the
  // now-known token t_{j+1}. Rows past fed0 left by last step's chained drafts are dropped first.
  TokenBatch mb;
  std::vector<SequenceCache*> caches;
  std::vector<int64_t> ids;  // by slot
  std::vector<float> prev;
  std::vector<Sequence*> drafting;
  std::vector<int64_t> last_row;
  for (const auto& e : rows.entries) {
    Sequence& s = *e.s;
    if (s.finish != FinishReason::kNone) continue;
    s.mtp_cache.truncate(e.fed0);
    const int64_t slot = int64_t(caches.size());
    caches.push_back(&s.mtp_cache);
    ids.push_back(s.id);
    for (int64_t j = e.fed0; j < s.fed; ++j) {
      mb.add(s.tokens[size_t(j + 1)], int32_t(j), int32_t(slot));
      const float* h = hidden.data() + (e.row0 + j - e.fed0) * H;
      prev.insert(prev.end(), h, h + H);
    }
    // Only a sequence with exactly one pending token (past its prompt) drafts.
    if (int64_t(s.tokens.size()) == s.fed + 1 && draft_budget(s, opt_.draft_tokens, opt_.context_length) > 0) {
      drafting.push_back(&s);
      last_row.push_back(mb.size() - 1);
    }
  }
  if (mb.size() == 0) return;
  std::vector<float> out(size_t(mb.size() * H));
  run_forward(mb, caches, ids, prev.data(), out.data());

  // Chained drafts: row r (r >= 1) at position fed - 1 + r takes the MTP state of the row
  // before it and draft d_r, and predicts d_{r+1}.
  std::vector<float> state(size_t(int64_t(drafting.size()) * H)), logits;
  for (size_t i = 0; i < drafting.size(); ++i)
    std::copy_n(out.data() + last_row[i] * H, H, state.data() + int64_t(i) * H);
  while (!drafting.empty()) {
    const int64_t n = int64_t(drafting.size());
    logits.resize(size_t(n * V));
    model_.logits(logits.data(), state.data(), n);
    std::vector<Sequence*> more;
    std::vector<float> more_prev;
    TokenBatch cb;
    std::vector<SequenceCache*> cc;
    std::vector<int64_t> cids;
    for (int64_t i = 0; i < n; ++i) {
      Sequence& s = *drafting[size_t(i)];
      sample_draft(s, logits.data() + i * V);
      if (int64_t(s.drafts.size()) >= draft_budget(s, opt_.draft_tokens, opt_.context_length)) continue;
      cb.add(s.drafts.back(), int32_t(s.fed - 1 + int64_t(s.drafts.size())), int32_t(cc.size()));
      cc.push_back(&s.mtp_cache);
      cids.push_back(s.id);
      more.push_back(&s);
      more_prev.insert(more_prev.end(), state.begin() + i * H, state.begin() + (i + 1) * H);
    }
    drafting = std::move(more);
    if (drafting.empty()) break;
    state.resize(size_t(int64_t(drafting.size()) * H));
    run_forward(cb, cc, cids, more_prev.data(), state.data());
  }
}

// One draft from the MTP logits, with the same penalties and sampling settings as the target
// (the closer q is to p, the more drafts are accepted); q is kept for the acceptance test.
void Batcher::sample_draft(Sequence& s, const float* logits) {
  const int64_t V = model_.config().vocab_size;
  const SamplingParams& sp = s.req.sampling;
  std::vector<float> row(logits, logits + V);
  if (sp.has_penalties()) {
    for (int32_t d : s.drafts) s.history.add(d);
    apply_penalties(row.data(), V, sp, s.history);
    for (int32_t d : s.drafts) s.history.remove(d);
  }
  if (sp.greedy()) {
    s.drafts.push_back(argmax(row.data(), V));
    return;
  }
  std::vector<double> q;
  sampling_distribution(q, row.data(), V, sp);
  s.drafts.push_back(draw(q, s.rng));
  s.draft_probs.push_back(std::move(q));
}

}  // namespace dsv3
