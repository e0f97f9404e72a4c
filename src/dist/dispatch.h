// Expert parallelism's token exchange (the dispatch / combine pattern of DeepSeek's DeepEP).
//
// The ranks of an expert group split the routed experts: rank r owns the E/N consecutive ids
// [r·E/N, (r+1)·E/N). For one MoE layer, each rank holds some token rows and their top-k
// expert ids. Dispatch sends each row once to every rank that owns at least one of its experts,
// with the list of those experts; each owner runs its experts on what it received; combine
// sends every (token, expert) output back to the token's rank, which adds them, weighted, in
// ascending expert id — the order a single process uses — so the layout changes no bit of the
// result. Rows travel as float32: exactness first; a BF16/FP8 wire format would halve/quarter
// the bytes at the price of that guarantee.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "dist/comm.h"

namespace dsv3::dist {

struct ExpertPlacement {
  int64_t n_experts = 0;
  int ranks = 1, rank = 0;
  int64_t per_rank() const { return n_experts / ranks; }
  int owner(int64_t expert) const { return int(expert / per_rank()); }
  int64_t first_local() const { return rank * per_rank(); }
};

// Fails on every rank unless the group size divides n_experts.
ExpertPlacement place_experts(int64_t n_experts, const Communicator& expert_group);

struct ExchangeStats {
  int64_t dispatch_bytes = 0;  // token rows sent to other ranks (float32 payload)
  int64_t combine_bytes = 0;   // expert outputs sent back to other ranks
  int64_t meta_bytes = 0;      // expert lists and counts
};

class ExpertExchange {
 public:
  ExpertExchange(Communicator& expert_group, const ExpertPlacement& place, int64_t hidden);
  ~ExpertExchange();

  // x [n, H] this rank's token rows, ids [n, K] their global expert ids (distinct per row; -1
  // for an unused slot). Blocking = begin + end; between them the rows are in flight and the
  // caller may compute (x and ids must stay alive until dispatch_end).
  void dispatch(const float* x, int64_t n, const int32_t* ids, int64_t K) {
    dispatch_begin(x, n, ids, K);
    dispatch_end();
  }
  void dispatch_begin(const float* x, int64_t n, const int32_t* ids, int64_t K);
  void dispatch_end();

  // What this rank must compute, valid after dispatch_end. Received rows are grouped by source
  // rank, each source's rows in its order. A pair is (received row, local expert); pairs run in
  // row order, and within a row in ascending expert id.
  int64_t received_rows() const { return int64_t(recv_src_.size()); }
  const float* received_x() const { return recv_x_.data(); }   // [rows, H]
  const std::vector<int32_t>& received_source() const { return recv_src_; }  // [rows] source rank
  int64_t pairs() const { return int64_t(pair_row_.size()); }
  const std::vector<int64_t>& pair_row() const { return pair_row_; }        // [pairs]
  const std::vector<int32_t>& pair_expert() const { return pair_expert_; }  // [pairs] global id

  // y [pairs, H]: each pair's expert output. out [n, H] (the dispatched rows' ranks) +=
  // Σ_k weights[t, k] · y(t, ids[t, k]), k in ascending expert id. y and out must stay alive
  // until combine_end.
  void combine(const float* y, const float* weights, float* out) {
    combine_begin(y);
    combine_end(weights, out);
  }
  void combine_begin(const float* y);
  void combine_end(const float* weights, float* out);

  // One float per (token, expert) pair of the current dispatch, blocking. to_owners: per_slot
  // [n, K] (the dispatched rows' side, slot t·K + k) -> per_pair [pairs] (the owners' side, pair
  // order). to_senders: the way back, per_pair -> per_slot (unused slots untouched). Training
  // uses them for the gates (forward's g to the owners) and their gradients (dL/dg back).
  void pair_values_to_owners(const float* per_slot, float* per_pair);
  void pair_values_to_senders(const float* per_pair, float* per_slot);

  const ExchangeStats& stats() const { return stats_; }

 private:
  std::vector<int64_t> pack_sends(const float* x);
  void start_transfers(const std::vector<int64_t>& meta_counts);
  Communicator& comm_;
  ExpertPlacement place_;
  int64_t H_;
  // Sender side of the current layer.
  int64_t n_ = 0, K_ = 0;
  const int32_t* ids_ = nullptr;
  std::vector<float> send_x_;
  std::vector<int32_t> send_meta_;                       // per sent row: count, then the expert ids
  std::vector<int64_t> send_rows_, send_pairs_;          // [ranks]
  std::vector<int64_t> slot_;                            // [n·K]: pair index in the combine buffer, -1 none
  // Receiver side.
  std::vector<int64_t> recv_rows_, recv_pairs_;          // [ranks]
  std::vector<int32_t> recv_meta_, recv_src_, pair_expert_;
  std::vector<int64_t> pair_row_;
  std::vector<float> recv_x_, combined_;                 // combined_: [Σ send_pairs, H]
  std::unique_ptr<Request> x_req_, meta_req_, y_req_;
  ExchangeStats stats_;
};

}  // namespace dsv3::dist
