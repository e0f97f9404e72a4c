// Continuous batching with optional MTP speculative decoding.
//
// A Batcher holds the running sequences. Each step() runs ONE batched Model::forward over rows
// from every sequence: the next chunk of a prompt (prefill), or the pending token plus its
// drafts (decode). Sequences can be added and cancelled between steps, so new requests join
// without waiting for the others to finish.
//
// Steps in flight (BatcherOptions::in_flight G > 1; pipeline parallelism, docs/pipeline.md): a
// step is started (rows planned, the forward pass begun: with a pipeline, this rank's stage run
// and sent on) and finished later (final states received, logits, sampling, drafts). step()
// keeps up to G started steps, each over other sequences — its share of the sequences that are
// in no step — and finishes the oldest, so the first stage runs one group's pass while the later
// stages run another's, and every stage reads its weights once per group and step. Each
// sequence's rows, tokens and draws are what G = 1 gives it (its caches and its Rng are its own).
//
// Speculative decoding with the MTP module (DeepSeek-V3 report §2.2, §5.4.3): the MTP row at
// position j combines the main model's final-normed state h_j with token t_{j+1} and predicts
// t_{j+2}. Per step and sequence with pending token t_T at position T and drafts d_1..d_k:
//   verify: the main model runs rows t_T, d_1..d_k at positions T..T+k; row T+i gives the
//           target distribution for the token at T+i+1; drafts are accepted left to right
//           (speculative.h) and the first rejected one is replaced by a target draw — or, if
//           all k are accepted, one more token is drawn from row T+k. So a+1 tokens come out.
//   caches: the main cache keeps positions up to T+a (truncate drops rejected drafts); the MTP
//           cache keeps only rows built from verified main-model states, so it is cut back to
//           T and rows T..T+a are run now that h_T..h_{T+a} and t_{T+1}..t_{T+a+1} are known.
//   draft:  the last of those MTP rows predicts d'_1; chained drafts d'_2.. reuse the MTP
//           module on its own output state (rows that the next step cuts back again).
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "infer/prefix_cache.h"
#include "infer/sampler.h"
#include "infer/token_constraint.h"
#include "model/model.h"

namespace dsv3 {

struct TokenEvent {
  int32_t token = 0;
  TokenLogprobs logprobs;  // filled when the request asked for logprobs
};

enum class FinishReason { kNone, kStop, kLength, kCancelled };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled"

struct SequenceStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  int64_t drafted = 0, accepted = 0;  // speculative drafts proposed and accepted
};

struct SequenceRequest {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 16;
  SamplingParams sampling;
  bool stop_at_eos = true;
  int64_t logprobs = -1;  // < 0: none; else also this many top alternatives per token
  // Restricts every chosen token (after penalties, before sampling); drafts it refuses are
  // rejected. Owned by this sequence alone: it keeps the output's parse state.
  std::shared_ptr<TokenConstraint> constraint;
  // Called for each new token on the stepping thread; returning false finishes the sequence
  // (reason kStop) without this token's successors.
  std::function<bool(const TokenEvent&)> on_token;
  std::function<void(FinishReason, const SequenceStats&)> on_finish;
};

// Sees each model call of a step that appends to sequences' caches, just before it runs.
// Expert-parallel serving (docs/distributed.md): rank 0's observer sends every call to the
// other ranks, which run it on their own copies of the caches, so that every rank takes part in
// each MoE layer's dispatch and combine.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // ids[slot]: the sequence whose cache is the batch's slot; live: every running sequence (the
  // caches of the others may go). mtp_prev: null for the main model, else the input states
  // [batch.size(), hidden] of MTP depth 0.
  virtual void before_forward(const TokenBatch& batch, const std::vector<int64_t>& ids,
                              const std::vector<int64_t>& live, const float* mtp_prev) = 0;
  // With a prefix cache, its decisions in the order they happen (the other ranks mirror them):
  // the new sequence `id` started from `restored` cached positions of `prompt` (0: a miss), or
  // sequence `id`'s cache holds `prompt` and its whole blocks were stored. `mtp`: the MTP cache
  // takes part too.
  virtual void prefix_restored(int64_t id, const std::vector<int32_t>& prompt, int64_t restored, bool mtp) {}
  virtual void prefix_stored(int64_t id, const std::vector<int32_t>& prompt, bool mtp) {}
  // Runs the call in the model's place when it returns true (serve --ep --dp-attention: each
  // rank runs its own sequences' rows; the caches of the others' sequences stay empty here).
  virtual bool forward(const TokenBatch& batch, SequenceCache* const* caches, const std::vector<int64_t>& ids,
                       const float* mtp_prev, float* out) {
    return false;
  }
};

struct BatcherOptions {
  int64_t draft_tokens = 0;        // MTP drafts per step; 0: plain decoding
  int64_t max_prefill_tokens = 0;  // prompt rows per step over all sequences; 0: no limit
  int64_t context_length = 0;      // prompt + new tokens; 0: the model's max_position_embeddings
  int64_t prefix_cache_bytes = 0;  // prefix caching (prefix_cache.h) up to this many bytes; 0: off
  ForwardObserver* observer = nullptr;  // not owned; outlives the Batcher
  int64_t in_flight = 1;                // steps in flight at once (see above); 1: one at a time
};

// What one step did, for metrics.
struct StepStats {
  int64_t sequences = 0, rows = 0, prefill_rows = 0, emitted = 0, drafted = 0, accepted = 0, finished = 0;
  // The latent-cache pages of the sequences of the step (main and MTP): the bytes of the
  // distinct ones (a page shared through the prefix cache counts once), and what they would
  // take if every sequence held its own copies.
  int64_t cache_bytes = 0, cache_unshared_bytes = 0;
};

// The state of one sequence. tokens holds every known token (prompt + output); the main cache
// holds positions [0, fed) and tokens[fed..] are waiting to be fed (the prompt's rest, or the
// one pending token). The MTP cache's rows [0, fed) are built from verified states.
struct Sequence {
  int64_t id = 0;
  SequenceRequest req;
  std::vector<int32_t> tokens;
  int64_t prompt_len = 0, fed = 0;
  SequenceCache cache, mtp_cache;
  std::vector<int32_t> drafts;
  std::vector<std::vector<double>> draft_probs;  // q of each draft (sampling only)
  TokenHistory history;
  Rng rng{0};
  SequenceStats stats;
  FinishReason finish = FinishReason::kNone;
  bool prefix_stored = false;  // its prompt's blocks went into the prefix cache
  bool in_flight = false;      // in a step started and not yet finished
  int64_t generated() const { return int64_t(tokens.size()) - prompt_len; }
};

class Batcher {
 public:
  Batcher(const Model& model, BatcherOptions opt);
  ~Batcher();

  // Validates the request (throws Error: empty prompt, ids outside the vocabulary, over the
  // context) and queues it for the next step. Returns its id.
  int64_t add(SequenceRequest r);
  // Finishes a sequence (on_finish with kCancelled) and frees its caches: now, or, if it is in
  // a step in flight, when that step finishes (without emitting its tokens).
  void cancel(int64_t id);
  int64_t size() const { return int64_t(seqs_.size()); }
  bool empty() const { return seqs_.empty(); }
  const BatcherOptions& options() const { return opt_; }
  int64_t context_length() const { return opt_.context_length; }
  const Sequence* find(int64_t id) const;  // nullptr once finished (tests inspect caches)
  const PrefixCache* prefix_cache() const { return prefix_.get(); }  // null when off

  // Starts steps while fewer than in_flight are running and some sequences are in none, then
  // finishes the oldest step and returns what it did (nothing when no sequence is left).
  StepStats step();

 private:
  // Sequence e.s contributes rows [row0, row0 + known + drafts) to the batch, at positions
  // fed0, fed0 + 1, ...: `known` tokens waiting to be fed, then its drafts. Rows from position
  // fed0 on are in the batch in order, which draft() relies on.
  struct Rows {
    struct Entry {
      Sequence* s;
      int64_t row0, fed0, known, n_drafts;
      bool wants_logits;  // the last known row (and the drafts) give the next token(s)
    };
    TokenBatch batch;
    std::vector<SequenceCache*> caches;  // by batch slot
    std::vector<int64_t> ids;            // by batch slot: the sequence
    std::vector<Entry> entries;
  };
  // A step started and not yet finished.
  struct Step {
    Rows rows;
    std::vector<float> hidden;          // [rows, hidden]: the final states, once they are in
    std::unique_ptr<ForwardPass> pass;  // null when the observer ran the call itself
  };
  // Plans rows for at most max_sequences of the sequences in no step.
  void plan(Rows& rows, int64_t max_sequences);
  bool start();  // false: no step to start
  StepStats finish();
  // Shows the call to the observer; true when the observer ran it (into out).
  bool observed_forward(const TokenBatch& batch, const std::vector<SequenceCache*>& caches,
                        const std::vector<int64_t>& ids, const float* mtp_prev, float* out) const;
  // Model::forward / mtp_forward (depth 0), shown to the observer first.
  void run_forward(const TokenBatch& batch, const std::vector<SequenceCache*>& caches,
                   const std::vector<int64_t>& ids, const float* mtp_prev, float* out) const;
  void verify(Sequence& s, const float* logits, int64_t n_rows, StepStats& st);
  bool emit(Sequence& s, int32_t token, const float* penalized_logits);
  void draft(const Rows& rows, const std::vector<float>& hidden);
  void sample_draft(Sequence& s, const float* logits);
  void finish(Sequence& s, FinishReason r);
  void store_prefix(const Rows& rows);
  void measure_caches(StepStats& st) const;

  const Model& model_;
  BatcherOptions opt_;
  int64_t next_id_ = 0;
  std::map<int64_t, std::unique_ptr<Sequence>> seqs_;  // by id: admission order
  std::unique_ptr<PrefixCache> prefix_;
  std::deque<std::unique_ptr<Step>> in_flight_;  // oldest first
};

}  // namespace dsv3
