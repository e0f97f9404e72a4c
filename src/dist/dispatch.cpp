#include "dist/dispatch.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "dist/world.h"
#include "kernels/ops.h"

namespace dsv3::dist {

namespace {

// Row t's used slots as (expert, k), ascending in expert id — the order one process adds them.
int64_t sorted_slots(const int32_t* ids, int64_t t, int64_t K, std::vector<std::pair<int32_t, int64_t>>& order) {
  int64_t used = 0;
  for (int64_t k = 0; k < K; ++k)
    if (ids[t * K + k] >= 0) order[size_t(used++)] = {ids[t * K + k], k};
  std::sort(order.begin(), order.begin() + used);
  return used;
}

}  // namespace

ExpertPlacement place_experts(int64_t n_experts, const Communicator& g) {
  if (n_experts <= 0 || n_experts % g.size() != 0)
    fail_on_every_rank(cat("--ep ", g.size(), " does not divide the ", n_experts,
                           " routed experts (each rank must own the same number)"));
  return {n_experts, g.size(), g.rank()};
}

ExpertExchange::ExpertExchange(Communicator& g, const ExpertPlacement& p, int64_t hidden)
    : comm_(g), place_(p), H_(hidden) {}

ExpertExchange::~ExpertExchange() = default;  // pending requests wait in their destructors

void ExpertExchange::dispatch_begin(const float* x, int64_t n, const int32_t* ids, int64_t K) {
  n_ = n, K_ = K, ids_ = ids;
  start_transfers(pack_sends(x));
}

// Fills send_x_ / send_meta_ (in rank order) and the combine slots; returns the metadata
// count per destination.
std::vector<int64_t> ExpertExchange::pack_sends(const float* x) {
  const int N = comm_.size();
  const int64_t n = n_, K = K_;
  // Per destination: the rows whose experts it owns, in row order (a row once per rank).
  std::vector<std::vector<int64_t>> rows(static_cast<size_t>(N));
  std::vector<std::vector<int32_t>> meta(static_cast<size_t>(N));
  send_rows_.assign(size_t(N), 0);
  send_pairs_.assign(size_t(N), 0);
  slot_.assign(size_t(n * K), -1);
  std::vector<std::vector<int64_t>> slot_in_rank(static_cast<size_t>(N));  // (t·K + k) per pair, in pair order
  std::vector<std::pair<int32_t, int64_t>> order(static_cast<size_t>(K));  // (expert, k) of one row, ascending
  for (int64_t t = 0; t < n; ++t) {
    const int64_t used = sorted_slots(ids_, t, K, order);
    for (int64_t i = 0; i < used;) {
      const int r = place_.owner(order[size_t(i)].first);
      int64_t j = i;
      while (j < used && place_.owner(order[size_t(j)].first) == r) ++j;
      rows[size_t(r)].push_back(t);
      meta[size_t(r)].push_back(int32_t(j - i));
      for (int64_t q = i; q < j; ++q) {
        meta[size_t(r)].push_back(order[size_t(q)].first);
        slot_in_rank[size_t(r)].push_back(t * K + order[size_t(q)].second);
      }
      send_pairs_[size_t(r)] += j - i;
      i = j;
    }
  }
  // Flatten in rank order; a pair's slot in the combine buffer follows the same order.
  send_x_.clear();
  send_meta_.clear();
  std::vector<int64_t> meta_counts(static_cast<size_t>(N));
  int64_t slot = 0;
  for (int r = 0; r < N; ++r) {
    send_rows_[size_t(r)] = int64_t(rows[size_t(r)].size());
    for (int64_t t : rows[size_t(r)]) send_x_.insert(send_x_.end(), x + t * H_, x + (t + 1) * H_);
    send_meta_.insert(send_meta_.end(), meta[size_t(r)].begin(), meta[size_t(r)].end());
    meta_counts[size_t(r)] = int64_t(meta[size_t(r)].size());
    for (int64_t tk : slot_in_rank[size_t(r)]) slot_[size_t(tk)] = slot++;
    if (r != comm_.rank()) {
      stats_.dispatch_bytes += send_rows_[size_t(r)] * H_ * 4;
      stats_.meta_bytes += meta_counts[size_t(r)] * 4;
    }
  }
  return meta_counts;
}

void ExpertExchange::start_transfers(const std::vector<int64_t>& meta_counts) {
  const int N = comm_.size();
  // Layout first (two counts per peer), then the rows and their expert lists in flight.
  std::vector<int64_t> counts_out(static_cast<size_t>(2 * N)), counts_in(static_cast<size_t>(2 * N));
  for (int r = 0; r < N; ++r) counts_out[size_t(2 * r)] = send_rows_[size_t(r)], counts_out[size_t(2 * r + 1)] = send_pairs_[size_t(r)];
  const std::vector<int64_t> twos(size_t(N), 2);
  comm_.all_to_all(counts_out.data(), twos, counts_in.data(), twos, Elem::I64);
  recv_rows_.assign(size_t(N), 0);
  recv_pairs_.assign(size_t(N), 0);
  std::vector<int64_t> x_in(static_cast<size_t>(N)), x_out(static_cast<size_t>(N)), meta_in(static_cast<size_t>(N));
  int64_t total_rows = 0, total_meta = 0;
  for (int r = 0; r < N; ++r) {
    recv_rows_[size_t(r)] = counts_in[size_t(2 * r)];
    recv_pairs_[size_t(r)] = counts_in[size_t(2 * r + 1)];
    x_in[size_t(r)] = recv_rows_[size_t(r)] * H_;
    x_out[size_t(r)] = send_rows_[size_t(r)] * H_;
    meta_in[size_t(r)] = recv_rows_[size_t(r)] + recv_pairs_[size_t(r)];
    total_rows += recv_rows_[size_t(r)];
    total_meta += meta_in[size_t(r)];
  }
  recv_x_.resize(static_cast<size_t>(total_rows * H_));
  recv_meta_.resize(static_cast<size_t>(total_meta));
  x_req_ = comm_.all_to_all_start(send_x_.data(), x_out, recv_x_.data(), x_in, Elem::F32);
  meta_req_ = comm_.all_to_all_start(send_meta_.data(), meta_counts, recv_meta_.data(), meta_in, Elem::I32);
}

void ExpertExchange::dispatch_end() {
  x_req_->wait();
  meta_req_->wait();
  recv_src_.clear();
  pair_row_.clear();
  pair_expert_.clear();
  size_t at = 0;
  for (int r = 0; r < comm_.size(); ++r)
    for (int64_t i = 0; i < recv_rows_[size_t(r)]; ++i) {
      const int64_t row = int64_t(recv_src_.size());
      recv_src_.push_back(r);
      const int32_t c = recv_meta_[at++];
      for (int32_t q = 0; q < c; ++q) {
        pair_row_.push_back(row);
        pair_expert_.push_back(recv_meta_[at++]);
      }
    }
}

void ExpertExchange::combine_begin(const float* y) {
  const int N = comm_.size();
  std::vector<int64_t> out(static_cast<size_t>(N)), in(static_cast<size_t>(N));
  int64_t total = 0;
  for (int r = 0; r < N; ++r) {
    out[size_t(r)] = recv_pairs_[size_t(r)] * H_;  // back to where the rows came from
    in[size_t(r)] = send_pairs_[size_t(r)] * H_;
    total += send_pairs_[size_t(r)];
    if (r != comm_.rank()) stats_.combine_bytes += out[size_t(r)] * 4;
  }
  combined_.resize(static_cast<size_t>(total * H_));
  y_req_ = comm_.all_to_all_start(y, out, combined_.data(), in, Elem::F32);
}

void ExpertExchange::combine_end(const float* weights, float* out) {
  y_req_->wait();
  std::vector<std::pair<int32_t, int64_t>> order(static_cast<size_t>(K_));
  for (int64_t t = 0; t < n_; ++t) {
    int64_t used = 0;
    for (int64_t k = 0; k < K_; ++k)
      if (ids_[t * K_ + k] >= 0) order[size_t(used++)] = {ids_[t * K_ + k], k};
    std::sort(order.begin(), order.begin() + used);
    float* o = out + t * H_;
    for (int64_t i = 0; i < used; ++i) {
      const int64_t tk = t * K_ + order[size_t(i)].second;
      axpy(o, weights[tk], combined_.data() + slot_[size_t(tk)] * H_, H_);  // moe_forward's own addition
    }
  }
}

void ExpertExchange::pair_values_to_owners(const float* per_slot, float* per_pair) {
  std::vector<float> send(static_cast<size_t>(std::accumulate(send_pairs_.begin(), send_pairs_.end(), int64_t(0))));
  for (int64_t tk = 0; tk < n_ * K_; ++tk)
    if (slot_[size_t(tk)] >= 0) send[size_t(slot_[size_t(tk)])] = per_slot[tk];
  comm_.all_to_all(send.data(), send_pairs_, per_pair, recv_pairs_, Elem::F32);
}

void ExpertExchange::pair_values_to_senders(const float* per_pair, float* per_slot) {
  std::vector<float> back(static_cast<size_t>(std::accumulate(send_pairs_.begin(), send_pairs_.end(), int64_t(0))));
  comm_.all_to_all(per_pair, recv_pairs_, back.data(), send_pairs_, Elem::F32);
  for (int64_t tk = 0; tk < n_ * K_; ++tk)
    if (slot_[size_t(tk)] >= 0) per_slot[tk] = back[size_t(slot_[size_t(tk)])];
}

}  // namespace dsv3::dist
