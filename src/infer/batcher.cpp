#include "infer/batcher.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "core/error.h"
#include "infer/speculative.h"

namespace dsv3 {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    default: return "none";
  }
}

Batcher::Batcher(const Model& model, BatcherOptions opt) : model_(model), opt_(opt) {
  const int64_t max_ctx = model.config().max_position_embeddings;
  if (opt_.context_length <= 0 || opt_.context_length > max_ctx) opt_.context_length = max_ctx;
  if (opt_.draft_tokens < 0) fail("the number of draft tokens must be >= 0");
  if (opt_.draft_tokens > 0 && model.mtp_depth() == 0)
    fail("speculative decoding needs an MTP module, and this checkpoint has none (num_nextn_predict_layers = 0)");
  if (opt_.in_flight < 1) fail("the number of steps in flight must be >= 1, got ", opt_.in_flight);
  if (opt_.prefix_cache_bytes > 0) prefix_ = std::make_unique<PrefixCache>(opt_.prefix_cache_bytes);
}

// Left by an error: the passes in flight still receive into their buffers, so they end first.
Batcher::~Batcher() {
  std::vector<float> hidden;
  for (auto& st : in_flight_) {
    if (!st->pass) continue;
    hidden.resize(size_t(st->rows.batch.size() * model_.config().hidden_size));
    try {
      model_.forward_finish(*st->pass, hidden.data());
    } catch (const Error&) {
    }
  }
}

int64_t Batcher::add(SequenceRequest r) {
  const int64_t V = model_.config().vocab_size, T = int64_t(r.prompt.size());
  if (T == 0) fail("the prompt is empty");
  for (int32_t t : r.prompt)
    if (t < 0 || t >= V) fail("prompt token id ", t, " is outside the vocabulary [0, ", V, ")");
  if (r.max_new_tokens < 1) fail("the number of new tokens must be >= 1, got ", r.max_new_tokens);
  if (T + r.max_new_tokens > opt_.context_length)
    fail("the prompt (", T, " tokens) plus ", r.max_new_tokens, " new tokens exceeds the context of ",
         opt_.context_length, " tokens");
  auto s = std::make_unique<Sequence>();
  s->id = next_id_++;
  s->tokens = r.prompt;
  s->prompt_len = T;
  s->cache = model_.new_cache();
  if (opt_.draft_tokens > 0) s->mtp_cache = model_.new_mtp_cache();
  // A cached prefix is not prefilled again: feeding starts after it.
  if (prefix_) {
    const bool mtp = opt_.draft_tokens > 0;
    s->fed = prefix_->restore(r.prompt, s->cache, mtp ? &s->mtp_cache : nullptr);
    if (opt_.observer) opt_.observer->prefix_restored(s->id, r.prompt, s->fed, mtp);
  }
  if (r.sampling.has_penalties()) s->history.add_prompt(r.prompt);
  s->rng = Rng(r.sampling.seed);
  s->stats.prompt_tokens = T;
  s->req = std::move(r);
  const int64_t id = s->id;
  seqs_.emplace(id, std::move(s));
  return id;
}

void Batcher::cancel(int64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  if (it->second->in_flight) {  // its step's rows are running: finish() lets it go
    it->second->finish = FinishReason::kCancelled;
    return;
  }
  std::unique_ptr<Sequence> s = std::move(it->second);
  seqs_.erase(it);
  if (s->req.on_finish) s->req.on_finish(FinishReason::kCancelled, s->stats);
}

const Sequence* Batcher::find(int64_t id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

void Batcher::plan(Rows& rows, int64_t max_sequences) {
  int64_t budget = opt_.max_prefill_tokens > 0 ? opt_.max_prefill_tokens : std::numeric_limits<int64_t>::max();
  for (auto& [id, sp] : seqs_) {
    Sequence& s = *sp;
    if (s.in_flight) continue;
    if (int64_t(rows.entries.size()) == max_sequences) break;
    const int64_t waiting = int64_t(s.tokens.size()) - s.fed;
    int64_t known = waiting;
    if (s.fed < s.prompt_len) {  // prefill: a chunk of the prompt within this step's budget
      known = std::min(waiting, budget);
      if (known == 0) continue;
      budget -= known;
    }
    const bool complete = known == waiting;
    const int64_t slot = int64_t(rows.caches.size());
    rows.caches.push_back(&s.cache);
    rows.ids.push_back(s.id);
    rows.entries.push_back({&s, rows.batch.size(), s.fed, known, complete ? int64_t(s.drafts.size()) : 0, complete});
    for (int64_t i = 0; i < known; ++i) rows.batch.add(s.tokens[size_t(s.fed + i)], int32_t(s.fed + i), int32_t(slot));
    if (complete)
      for (size_t i = 0; i < s.drafts.size(); ++i)
        rows.batch.add(s.drafts[i], int32_t(s.fed + known + int64_t(i)), int32_t(slot));
  }
}

StepStats Batcher::step() {
  while (start()) {
  }
  return in_flight_.empty() ? StepStats{} : finish();
}

// The idle sequences are shared out over the steps that may still start, so that G steps in
// flight hold about 1/G of the sequences each.
bool Batcher::start() {
  const int64_t free = opt_.in_flight - int64_t(in_flight_.size());
  int64_t idle = 0;
  for (const auto& [id, s] : seqs_) idle += !s->in_flight;
  if (free <= 0 || idle == 0) return false;
  auto st = std::make_unique<Step>();
  Rows& rows = st->rows;
  plan(rows, (idle + free - 1) / free);
  if (rows.entries.empty()) return false;
  for (const auto& e : rows.entries) e.s->in_flight = true;
  st->hidden.resize(size_t(rows.batch.size() * model_.config().hidden_size));
  if (!observed_forward(rows.batch, rows.caches, rows.ids, nullptr, st->hidden.data()))
    st->pass = model_.forward_start(rows.batch, rows.caches.data());
  in_flight_.push_back(std::move(st));
  return true;
}

StepStats Batcher::finish() {
  const std::unique_ptr<Step> step = std::move(in_flight_.front());
  in_flight_.pop_front();
  const Rows& rows = step->rows;
  std::vector<float>& hidden = step->hidden;
  StepStats st;
  const int64_t H = model_.config().hidden_size, V = model_.config().vocab_size;
  st.sequences = int64_t(rows.entries.size());
  st.rows = rows.batch.size();
  if (step->pass) model_.forward_finish(*step->pass, hidden.data());
  for (const auto& e : rows.entries) e.s->in_flight = false;

  // Logits only where a token is chosen: a sequence's last known row and its draft rows (not
  // for a sequence cancelled while its rows ran).
  const auto chooses = [](const Rows::Entry& e) { return e.wants_logits && e.s->finish == FinishReason::kNone; };
  int64_t n_logits = 0;
  for (const auto& e : rows.entries) {
    if (e.s->fed < e.s->prompt_len) st.prefill_rows += e.known;
    if (chooses(e)) n_logits += 1 + e.n_drafts;
  }
  std::vector<float> picked(size_t(n_logits * H)), logits(size_t(n_logits * V));
  int64_t at = 0;
  for (const auto& e : rows.entries)
    if (chooses(e)) {
      const int64_t first = e.row0 + e.known - 1, n = 1 + e.n_drafts;
      std::copy_n(hidden.data() + first * H, n * H, picked.data() + at * H);
      at += n;
    }
  model_.logits(logits.data(), picked.data(), n_logits);

  at = 0;
  for (const auto& e : rows.entries) {
    const bool choose = chooses(e);
    e.s->fed += e.known;
    if (!choose) continue;
    verify(*e.s, logits.data() + at * V, 1 + e.n_drafts, st);
    at += 1 + e.n_drafts;
  }
  if (opt_.draft_tokens > 0) draft(rows, hidden);
  if (prefix_) store_prefix(rows);
  measure_caches(st);

  // The finished sequences, but none in another step in flight (cancelled ones wait for it).
  for (auto it = seqs_.begin(); it != seqs_.end();) {
    if (it->second->finish == FinishReason::kNone || it->second->in_flight) {
      ++it;
      continue;
    }
    std::unique_ptr<Sequence> s = std::move(it->second);
    it = seqs_.erase(it);
    ++st.finished;
    if (s->req.on_finish) s->req.on_finish(s->finish, s->stats);
  }
  return st;
}

bool Batcher::observed_forward(const TokenBatch& batch, const std::vector<SequenceCache*>& caches,
                               const std::vector<int64_t>& ids, const float* mtp_prev, float* out) const {
  if (!opt_.observer) return false;
  std::vector<int64_t> live;
  for (const auto& [id, s] : seqs_) live.push_back(id);
  opt_.observer->before_forward(batch, ids, live, mtp_prev);
  return opt_.observer->forward(batch, caches.data(), ids, mtp_prev, out);
}

void Batcher::run_forward(const TokenBatch& batch, const std::vector<SequenceCache*>& caches,
                          const std::vector<int64_t>& ids, const float* mtp_prev, float* out) const {
  if (observed_forward(batch, caches, ids, mtp_prev, out)) return;
  if (mtp_prev) model_.mtp_forward(0, mtp_prev, batch, caches.data(), out);
  else model_.forward(batch, caches.data(), out);
}

// Once a prompt is in the caches (and, with MTP, its MTP rows too, which draft() builds only
// for sequences still running), its whole blocks go into the prefix cache.
void Batcher::store_prefix(const Rows& rows) {
  const bool mtp = opt_.draft_tokens > 0;
  for (const auto& e : rows.entries) {
    Sequence& s = *e.s;
    if (s.prefix_stored || s.fed < s.prompt_len || (mtp && s.finish != FinishReason::kNone) ||
        s.finish == FinishReason::kCancelled)
      continue;
    s.prefix_stored = true;
    // Only the positions both caches hold: the other ranks' caches may hold more rows (drafts
    // they have not cut back yet), and must store exactly the blocks stored here.
    int64_t held = std::min(s.prompt_len, s.cache.length());
    if (mtp) held = std::min(held, s.mtp_cache.length());
    const std::vector<int32_t> prompt(s.tokens.begin(), s.tokens.begin() + held);
    prefix_->store(prompt, s.cache, mtp ? &s.mtp_cache : nullptr);
    if (opt_.observer) opt_.observer->prefix_stored(s.id, prompt, mtp);
  }
}

void Batcher::measure_caches(StepStats& st) const {
  std::unordered_set<const void*> seen;
  const auto count = [&](const SequenceCache& c) {
    for (int64_t i = 0; i < c.n_pages(); ++i) {
      const int64_t bytes = int64_t(c.page(i)->size());
      st.cache_unshared_bytes += bytes;
      if (seen.insert(c.page(i).get()).second) st.cache_bytes += bytes;
    }
  };
  for (const auto& [id, s] : seqs_) {
    count(s->cache);
    count(s->mtp_cache);
  }
}

// Rows of logits [n, V]: row 0 follows the pending token, row i the draft d_i.
void Batcher::verify(Sequence& s, const float* logits, int64_t n, StepStats& st) {
  const int64_t V = model_.config().vocab_size, k = n - 1;
  const SamplingParams& sp = s.req.sampling;
  std::vector<float> row(static_cast<size_t>(V));
  std::vector<double> p;
  int64_t accepted = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(logits + i * V, V, row.begin());
    apply_penalties(row.data(), V, sp, s.history);  // the history includes accepted drafts
    if (s.req.constraint) s.req.constraint->mask(row.data(), V);  // in the state after the accepted drafts
    if (!sp.greedy()) sampling_distribution(p, row.data(), V, sp);
    int32_t tok;
    bool ok = false;
    if (i < k) {
      const int32_t d = s.drafts[size_t(i)];
      ok = sp.greedy() ? argmax(row.data(), V) == d : accept_draft(p, s.draft_probs[size_t(i)], d, s.rng);
      tok = ok ? d : sp.greedy() ? argmax(row.data(), V) : draw_residual(p, s.draft_probs[size_t(i)], s.rng);
    } else {
      tok = sp.greedy() ? argmax(row.data(), V) : draw(p, s.rng);
    }
    accepted += ok;
    ++st.emitted;
    if (!emit(s, tok, row.data()) || !ok) break;
  }
  st.drafted += k;
  st.accepted += accepted;
  s.stats.drafted += k;
  s.stats.accepted += accepted;
  s.fed += accepted;           // the accepted drafts are in the cache already ...
  s.cache.truncate(s.fed);     // ... the rejected ones are dropped
  s.drafts.clear();
  s.draft_probs.clear();
}

bool Batcher::emit(Sequence& s, int32_t token, const float* penalized_logits) {
  TokenEvent ev;
  ev.token = token;
  if (s.req.logprobs >= 0)
    ev.logprobs = token_logprobs(penalized_logits, model_.config().vocab_size, token, s.req.logprobs);
  s.tokens.push_back(token);
  if (s.req.sampling.has_penalties()) s.history.add(token);
  if (s.req.constraint) s.req.constraint->advance(token);
  ++s.stats.generated_tokens;
  const bool keep = !s.req.on_token || s.req.on_token(ev);
  if (!keep || (s.req.stop_at_eos && model_.config().is_eos(token))) s.finish = FinishReason::kStop;
  else if (s.generated() >= s.req.max_new_tokens) s.finish = FinishReason::kLength;
  return s.finish == FinishReason::kNone;
}

}  // namespace dsv3
