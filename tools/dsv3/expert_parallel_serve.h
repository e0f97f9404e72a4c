// serve --ep N: rank 0 runs the HTTP server and the scheduler; the other ranks run the same
// model calls, step by step, so that every rank takes part in each MoE layer's dispatch and
// combine (docs/distributed.md).
//
// Per call (a batched Model::forward, or MTP depth 0's forward) rank 0 sends one message:
//   header  i64[5]: kind (0 stop, 1 main model, 2 MTP depth 0), rows n, slots s, live sequences l,
//           prefix-cache events e (point to point, so that an idle rank can wait for it asleep);
//           then broadcast:
//   body    i64[3n + s + l]: tokens, positions, slots of the rows; the sequence of each slot;
//           the running sequences
//   events  i64[e]: with --prefix-cache-mb, rank 0's prefix-cache decisions since its last call,
//           in order, each [kind (1 restore, 2 store), sequence, restored positions, mtp,
//           prompt length p, p tokens]
//   prev    f32[n · hidden]: MTP only, the main model's states the MTP rows start from
// A follower keeps its own prefix cache and repeats rank 0's restores and stores on it, in the
// same order, so it holds the same blocks (a restore that finds another length there is an
// error: the ranks are out of step). It keeps one cache (and one MTP cache) per sequence id,
// drops those of sequences no
// longer running, and cuts each slot's cache back to its first row's position before the call
// (rank 0's batcher drops rejected drafts the same way), so its caches equal rank 0's.
//
// Data-parallel attention (--dp-attention, DeepSeek's deployment): sequence id s belongs to rank
// s mod N. Each rank runs the call on its own sequences' rows only — embedding, attention and
// its caches, router, shared expert — while each MoE layer's dispatch and combine exchange the
// rows of all ranks; an all-gather then gives rank 0 every row's output. A rank holds only its
// own sequences' caches (rank 0's batcher keeps the others' empty), so cache memory per rank
// shrinks by N. Not bit-identical to one process: a product's rounding may depend on how many
// rows it sees, and each expert sees the rows grouped by rank (docs/distributed.md).
#pragma once
#include <vector>

#include "dist/comm.h"
#include "infer/batcher.h"

namespace dsv3::cli {

// Rank 0's side: the batcher's observer.
class StepBroadcaster : public ForwardObserver {
 public:
  StepBroadcaster(dist::Communicator& world, int64_t hidden) : world_(world), hidden_(hidden) {}
  void before_forward(const TokenBatch& batch, const std::vector<int64_t>& ids, const std::vector<int64_t>& live,
                      const float* mtp_prev) override;
  void prefix_restored(int64_t id, const std::vector<int32_t>& prompt, int64_t restored, bool mtp) override;
  void prefix_stored(int64_t id, const std::vector<int32_t>& prompt, bool mtp) override;
  bool forward(const TokenBatch& batch, SequenceCache* const* caches, const std::vector<int64_t>& ids,
               const float* mtp_prev, float* out) override;
  // --dp-attention: rank 0 runs its own sequences' rows only (model's MoE layers through moe).
  void attend_data_parallel(const Model& model, MoeRunner& moe) {
    model_ = &model;
    moe_ = &moe;
  }
  // Ends the followers' loops; call once the scheduler's thread has ended.
  void stop();

 private:
  dist::Communicator& world_;
  int64_t hidden_;
  std::vector<int64_t> prefix_events_;  // sent with the next call
  const Model* model_ = nullptr;        // --dp-attention only
  MoeRunner* moe_ = nullptr;
};

// The other ranks: runs rank 0's calls until it stops. prefix_cache_bytes: --prefix-cache-mb's
// capacity (the same on every rank), 0: off.
// dp_moe: the model's MoE runner with --dp-attention, null otherwise.
// runs_mtp false: the rank receives MTP calls but skips them (--pp --ep: a rank of a later stage,
// where only stage 0's ranks, which hold the MTP module's experts, exchange its rows).
void follow_steps(const Model& model, dist::Communicator& world, int64_t prefix_cache_bytes, MoeRunner* dp_moe,
                  bool runs_mtp = true);

}  // namespace dsv3::cli
