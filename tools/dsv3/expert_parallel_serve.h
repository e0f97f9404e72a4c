// serve --ep N: rank 0 runs the HTTP server and the scheduler; the other ranks run the same
// model calls, step by step, so that every rank takes part in each MoE layer's dispatch and
// combine (docs/distributed.md).
//
// Per call (a batched Model::forward, or MTP depth 0's forward) rank 0 sends one message:
//   header  i64[4]: kind (0 stop, 1 main model, 2 MTP depth 0), rows n, slots s, live sequences l
//           (point to point, so that an idle rank can wait for it asleep); then broadcast:
//   body    i64[3n + s + l]: tokens, positions, slots of the rows; the sequence of each slot;
//           the running sequences
//   prev    f32[n · hidden]: MTP only, the main model's states the MTP rows start from
// A follower keeps one cache (and one MTP cache) per sequence id, drops those of sequences no
// longer running, and cuts each slot's cache back to its first row's position before the call
// (rank 0's batcher drops rejected drafts the same way), so its caches equal rank 0's.
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
  // Ends the followers' loops; call once the scheduler's thread has ended.
  void stop();

 private:
  dist::Communicator& world_;
  int64_t hidden_;
};

// The other ranks: runs rank 0's calls until it stops.
void follow_steps(const Model& model, dist::Communicator& world);

}  // namespace dsv3::cli
