// DualPipe (DeepSeek-V3 report §3.2.1, Figure 5) and DualPipeV ("cut-in-half"), in the eight
// numbered steps of DeepSeek's dualpipe.py / dualpipev.py. A "phase" is the stage a step works
// on: phase 0 is the one whose micro-batches reach this rank first.
#include "core/error.h"
#include "pipeline/schedule_builders.h"
#include "pipeline/schedule_emit.h"

namespace dsv3::pipeline {

namespace {

// The steps both variants share. e: this rank's emitter with phases already mapped to modules;
// half: ranks per half of the path (P/2 for DualPipe, P for DualPipeV); h: this rank's distance
// from the near end of its half; chunks: micro-batches per direction; turn: this rank is where
// the two phases meet (DualPipe's middle ranks, DualPipeV's last rank).
template <typename Emit>
void eight_steps(Emit& e, int half, int h, int chunks, bool turn) {
  // Step 1: nF0 — fill the pipeline from the near end.
  for (int i = 0; i < (half - h - 1) * 2; ++i) e.forward_chunk(0);
  // Step 2: nF0F1 — forwards of both phases alternate.
  e.recv_forward(0);
  for (int i = 0; i <= h; ++i) {
    e.forward_chunk(0, false, turn);
    e.recv_forward(0);
    e.forward_chunk(1, true, !turn || i < h);
    if (!turn) e.send_forward(0);
  }
  // Step 3: nB1W1F1 — zero-bubble backwards of phase 1, their W filling the gaps.
  for (int i = 0; i < half - h - 1; ++i) {
    e.backward_chunk(1, true);
    e.recv_forward(1);
    e.weight_chunk();
    e.forward_chunk(1, false);
  }
  // Step 4 (main step): nF0B1F1B0 — every forward overlapped with a backward of the other phase.
  const int main_steps = chunks - 2 * half + h + 1;
  for (int i = 0; i < main_steps; ++i) {
    if (i == 0 && turn) {
      // Not overlapped: where the phases meet this shortens the bubble.
      e.forward_chunk(0, false, false);
      e.send_forward(1);
      e.backward_chunk(1, false, true, false);
      e.send_forward(0);
      e.send_backward(1);
    } else {
      e.forward_backward_chunk(0, 1, i > 0);
    }
    e.forward_backward_chunk(1, 0);
  }
  // Step 5: nB1F1B0
  for (int i = 0; i < half - h - 1; ++i) {
    e.backward_chunk(1);
    e.forward_backward_chunk(1, 0);
  }
  // Step 6: nB1B0 — the second half of these backwards defer their W.
  bool split_w = false;
  for (int i = 0; i <= h; ++i) {
    if (i == (h + 1) / 2 && h % 2 == 1) split_w = true;
    e.backward_chunk(1, split_w);
    if (i == (h + 1) / 2 && h % 2 == 0) split_w = true;
    e.backward_chunk(0, split_w);
  }
  // Step 7: nWB0
  for (int i = 0; i < half - h - 1; ++i) {
    e.weight_chunk();
    e.backward_chunk(0, true);
  }
  // Step 8: nW
  for (int i = 0; i <= h; ++i) e.weight_chunk();
}

// Maps dualpipe.py's phase to a module: on the second half of the ranks phase 0 is the reverse
// direction, whose micro-batches arrive there first.
struct PhaseEmitter {
  RankEmitter& e;
  int swap;
  void recv_forward(int p) { e.recv_forward(p ^ swap); }
  void send_forward(int p) { e.send_forward(p ^ swap); }
  void send_backward(int p) { e.send_backward(p ^ swap); }
  void forward_chunk(int p, bool recv = true, bool send = true) { e.forward_chunk(p ^ swap, recv, send); }
  void backward_chunk(int p, bool split_w = false, bool recv = true, bool send = true) {
    e.backward_chunk(p ^ swap, split_w, recv, send);
  }
  void forward_backward_chunk(int p0, int p1, bool recv0 = true) { e.forward_backward_chunk(p0 ^ swap, p1 ^ swap, recv0); }
  void weight_chunk() { e.weight_chunk(); }
};

}  // namespace

void build_dualpipe(Schedule& s, int ranks, int micro_batches) {
  if (ranks % 2 != 0) fail("dualpipe needs an even number of pipeline ranks, got ", ranks);
  if (micro_batches % 2 != 0 || micro_batches < 2 * ranks)
    fail("dualpipe needs an even number of micro-batches (half per direction) of at least 2 x ranks = ",
         2 * ranks, ", got ", micro_batches);
  s.ranks = s.stages = ranks;
  s.dirs = 2;
  s.micro_batches = micro_batches;
  const int half = ranks / 2;
  for (int r = 0; r < ranks; ++r) {
    // Module 0: stage r of the forward direction; module 1: stage P-1-r of the reverse one.
    RankEmitter e(s, r, {{0, 0, r}, {1, 0, ranks - 1 - r}});
    PhaseEmitter pe{e, r >= half ? 1 : 0};
    const int h = std::min(r, ranks - 1 - r);
    eight_steps(pe, half, h, micro_batches / 2, r == half - 1 || r == half);
    s.ops.push_back(e.finish());
  }
}

void build_dualpipev(Schedule& s, int ranks, int micro_batches) {
  if (micro_batches < 2 * ranks)
    fail("dualpipev needs at least 2 x ranks = ", 2 * ranks, " micro-batches, got ", micro_batches);
  s.ranks = ranks;
  s.stages = 2 * ranks;
  s.micro_batches = micro_batches;
  for (int r = 0; r < ranks; ++r) {
    // Module 0: stage r on the way down; module 1: stage 2P-1-r on the way back.
    RankEmitter e(s, r, {{0, 0, r}, {0, 0, 2 * ranks - 1 - r}});
    PhaseEmitter pe{e, 0};
    eight_steps(pe, ranks, r, micro_batches, r == ranks - 1);
    s.ops.push_back(e.finish());
  }
}

}  // namespace dsv3::pipeline
