#include "eval/score.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "core/error.h"
#include "kernels/log_softmax.h"

namespace dsv3::eval {

namespace {

// Rows of logits computed at once: bounds the [rows, vocab] buffer.
constexpr int64_t kLogitRows = 32;

// The piece of one request that a forward runs: rows [from, from + count) of its tokens.
struct Piece {
  int64_t request, from, count, row0;  // row0: its first row in the batch
};

int64_t end_of(const ScoreRequest& r) { return r.end < 0 ? int64_t(r.tokens.size()) : r.end; }

void check(const Model& m, const std::vector<ScoreRequest>& requests) {
  const int64_t ctx = m.config().max_position_embeddings, V = m.config().vocab_size;
  for (size_t i = 0; i < requests.size(); ++i) {
    const ScoreRequest& r = requests[i];
    const int64_t n = int64_t(r.tokens.size());
    if (n == 0) fail("sequence ", i, " to score is empty");
    if (n > ctx) fail("sequence ", i, " has ", n, " tokens, more than the model's context of ", ctx);
    if (r.first < 0 || end_of(r) > n || r.first > end_of(r)) fail("sequence ", i, ": rows to score out of range");
    for (int32_t t : r.tokens)
      if (t < 0 || t >= V) fail("sequence ", i, ": token id ", t, " is outside the vocabulary [0, ", V, ")");
  }
}

// Logits of the visited rows of one piece, kLogitRows at a time.
void visit_piece(const Model& m, const ScoreRequest& r, const Piece& p, const float* hidden, const RowVisitor& visit,
                 std::vector<float>& lp) {
  const int64_t H = m.config().hidden_size, V = m.config().vocab_size;
  const int64_t lo = std::max(r.first, p.from), hi = std::min(end_of(r), p.from + p.count);
  for (int64_t a = lo; a < hi; a += kLogitRows) {
    const int64_t n = std::min(kLogitRows, hi - a);
    lp.resize(size_t(n * V));
    m.logits(lp.data(), hidden + (p.row0 + a - p.from) * H, n);
    log_softmax_rows(lp.data(), n, V);
    for (int64_t j = 0; j < n; ++j) visit(p.request, a + j, lp.data() + j * V);
  }
}

}  // namespace

void log_softmax_rows(float* x, int64_t n, int64_t V) {
  for (int64_t t = 0; t < n; ++t) {
    float* row = x + t * V;
    const RowSoftmax s(row, V);
    const float lse = s.mx + float(s.log_se);  // in float, as the logits are
    for (int64_t v = 0; v < V; ++v) row[v] -= lse;
  }
}

void score_sequences(const Model& m, const std::vector<ScoreRequest>& requests, const RowVisitor& visit,
                     int64_t max_rows) {
  check(m, requests);
  max_rows = std::max<int64_t>(max_rows, 1);
  const int64_t H = m.config().hidden_size;
  std::map<int64_t, SequenceCache> caches;  // requests begun and not yet finished
  std::vector<float> hidden, lp;
  size_t next = 0;
  int64_t offset = 0;  // rows of requests[next] already run
  while (next < requests.size()) {
    // Pack pieces of the next requests until the forward holds max_rows rows.
    TokenBatch batch;
    std::vector<Piece> pieces;
    std::vector<SequenceCache*> slots;
    while (next < requests.size() && batch.size() < max_rows) {
      const ScoreRequest& r = requests[next];
      const int64_t n = int64_t(r.tokens.size()), count = std::min(max_rows - batch.size(), n - offset);
      auto it = caches.find(int64_t(next));
      if (it == caches.end()) it = caches.emplace(int64_t(next), m.new_cache()).first;
      const int32_t slot = int32_t(slots.size());
      slots.push_back(&it->second);
      pieces.push_back({int64_t(next), offset, count, batch.size()});
      for (int64_t i = offset; i < offset + count; ++i) batch.add(r.tokens[size_t(i)], int32_t(i), slot);
      offset += count;
      if (offset == n) ++next, offset = 0;
    }
    hidden.resize(size_t(batch.size() * H));
    m.forward(batch, slots.data(), hidden.data());
    for (const Piece& p : pieces) {
      const ScoreRequest& r = requests[size_t(p.request)];
      visit_piece(m, r, p, hidden.data(), visit, lp);
      if (p.from + p.count == int64_t(r.tokens.size())) caches.erase(p.request);
    }
  }
}

std::vector<Continuation> score_continuations(const Model& m, const std::vector<ScoreRequest>& requests,
                                              int64_t max_rows) {
  std::vector<Continuation> out(requests.size());
  const int64_t V = m.config().vocab_size;
  std::vector<ScoreRequest> rows = requests;
  for (ScoreRequest& r : rows) r.end = int64_t(r.tokens.size()) - 1;  // the last row predicts nothing scored
  score_sequences(
      m, rows,
      [&](int64_t i, int64_t pos, const float* lp) {
        const int32_t next = rows[size_t(i)].tokens[size_t(pos + 1)];
        out[size_t(i)].logprob += double(lp[next]);
        // Ties count as greedy: the target is among the most likely tokens.
        if (lp[next] < *std::max_element(lp, lp + V)) out[size_t(i)].greedy = false;
      },
      max_rows);
  return out;
}

}  // namespace dsv3::eval
