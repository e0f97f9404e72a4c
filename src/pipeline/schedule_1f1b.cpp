// 1F1B (one forward, one backward) and ZB1P (zero-bubble 1F1B: B split from W).
#include "core/error.h"
#include "pipeline/schedule_builders.h"
#include "pipeline/schedule_emit.h"

namespace dsv3::pipeline {

void build_1f1b(Schedule& s, int ranks, int micro_batches, bool split_w) {
  s.ranks = s.stages = ranks;
  s.micro_batches = micro_batches;
  for (int r = 0; r < ranks; ++r) {
    RankEmitter e(s, r, {{0, 0, r}});
    const int warmup = std::min(ranks - 1 - r, micro_batches);
    // ZB1P (the zero-bubble paper's ZB-H1): rank r keeps r weight gradients deferred, so its
    // input gradients reach rank r-1 sooner; the W fill the cool-down's gaps. A chunk's
    // activations live until its W, so rank r holds (P-r-1 warm-up) + 1 + r = P at most: the
    // peak of 1F1B's first rank.
    const int lag = r;
    int deferred = 0;
    auto backward = [&] {
      e.backward_chunk(0, split_w);
      if (!split_w || s.forward_only) return;
      e.commit();  // the input gradient leaves before the W, not after
      if (++deferred > lag) e.weight_chunk(), --deferred;
    };
    for (int i = 0; i < warmup; ++i) e.forward_chunk(0);
    for (int i = 0; i < micro_batches - warmup; ++i) {
      e.forward_chunk(0);
      backward();
    }
    for (int i = 0; i < warmup; ++i) backward();
    for (; deferred > 0; --deferred) e.weight_chunk();
    s.ops.push_back(e.finish());
  }
}

}  // namespace dsv3::pipeline
