// The program the mpirun tests launch (tests/dist/CMakeLists.txt): each mode checks one part of
// src/dist on every rank and exits non-zero with a one-line reason on the first mismatch.
//   dist_worker collectives --dp D --pp P --ep E    groups and collectives
//   dist_worker dispatch --experts X --topk K --rows N --hidden H [--nonblocking]
//   dist_worker spin                                  all-reduces until killed (rank-death test)
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "dist/dispatch.h"
#include "dist/world.h"

using namespace dsv3;
using namespace dsv3::dist;

namespace {

std::map<std::string, std::string> g_opts;

int64_t opt(const std::string& k, int64_t fallback) {
  auto it = g_opts.find(k);
  return it == g_opts.end() ? fallback : std::stoll(it->second);
}

#define CHECK(cond, ...) \
  if (!(cond)) fail("rank ", world().rank(), ": ", #cond, ": ", __VA_ARGS__)

void check_collectives() {
  Communicator& w = world();
  const int R = w.rank(), N = w.size();
  int64_t s = R;
  w.all_reduce(&s, 1);
  CHECK(s == int64_t(N) * (N - 1) / 2, "all_reduce sum gave ", s);
  double m = R;
  w.all_reduce(&m, 1, ReduceOp::Max);
  CHECK(m == N - 1, "all_reduce max gave ", m);

  // reduce_scatter: element i of every rank's send is R·1000 + i; block r sums to Σ_R (R·1000) + N·i.
  const int64_t C = 3;
  std::vector<float> send(static_cast<size_t>(N * C)), recv(static_cast<size_t>(C));
  for (int64_t i = 0; i < N * C; ++i) send[size_t(i)] = float(R * 1000 + i);
  w.reduce_scatter(send.data(), recv.data(), C, Elem::F32);
  for (int64_t i = 0; i < C; ++i) {
    const float want = float(1000 * N * (N - 1) / 2 + N * (R * C + i));
    CHECK(recv[size_t(i)] == want, "reduce_scatter element ", i, " is ", recv[size_t(i)], ", expected ", want);
  }
  // all_gather with uneven counts: rank r contributes r + 1 copies of r.
  std::vector<int64_t> counts(static_cast<size_t>(N));
  std::iota(counts.begin(), counts.end(), 1);
  std::vector<int32_t> mine(static_cast<size_t>(R + 1), R), all(size_t(N * (N + 1) / 2));
  w.all_gather(mine.data(), all.data(), counts, Elem::I32);
  for (int r = 0, at = 0; r < N; ++r)
    for (int j = 0; j <= r; ++j, ++at) CHECK(all[size_t(at)] == r, "all_gather slot ", at, " holds ", all[size_t(at)]);
  // broadcast from the last rank; a ring of point-to-point transfers.
  int64_t b = R == N - 1 ? 4242 : -1;
  w.broadcast(&b, 1, Elem::I64, N - 1);
  CHECK(b == 4242, "broadcast gave ", b);
  int64_t token = R * 10, got = -1;
  if (R % 2 == 0) {
    w.send(&token, 1, Elem::I64, (R + 1) % N, 7);
    w.recv(&got, 1, Elem::I64, (R + N - 1) % N, 7);
  } else {
    w.recv(&got, 1, Elem::I64, (R + N - 1) % N, 7);
    w.send(&token, 1, Elem::I64, (R + 1) % N, 7);
  }
  CHECK(got == ((R + N - 1) % N) * 10, "ring recv gave ", got);

  // Groups: every member of each group agrees on who is in it.
  const Layout l{int(opt("dp", N)), int(opt("pp", 1)), int(opt("ep", 1))};
  const Groups g = make_groups(w, l);
  const std::vector<int32_t> data = g.data->all_gather(std::vector<int32_t>{R});
  const std::vector<int32_t> pipe = g.pipeline->all_gather(std::vector<int32_t>{R});
  const std::vector<int32_t> expert = g.expert->all_gather(std::vector<int32_t>{R});
  CHECK(int(data.size()) == l.dp && int(pipe.size()) == l.pp && int(expert.size()) == l.ep, "group sizes ",
        data.size(), "/", pipe.size(), "/", expert.size());
  for (int d = 0; d < l.dp; ++d) CHECK(data[size_t(d)] == g.pp_rank * l.dp + d, "data group member ", d, " is ", data[size_t(d)]);
  for (int p = 0; p < l.pp; ++p) CHECK(pipe[size_t(p)] == p * l.dp + g.dp_rank, "pipeline member ", p, " is ", pipe[size_t(p)]);
  for (int e = 0; e < l.ep; ++e)
    CHECK(expert[size_t(e)] == g.pp_rank * l.dp + (g.dp_rank / l.ep) * l.ep + e, "expert member ", e, " is ", expert[size_t(e)]);
  CHECK(g.expert->rank() == g.ep_rank && g.data->rank() == g.dp_rank && g.pipeline->rank() == g.pp_rank, "group ranks");
}

// DeepEP's test, on the CPU: every row is filled with its sender's rank (and its row index in
// column 1), so each received row tells where it came from.
void check_dispatch() {
  Communicator& w = world();
  const int R = w.rank(), N = w.size();
  const int64_t X = opt("experts", 16), K = opt("topk", 4), n = opt("rows", 37) + R, H = opt("hidden", 8);
  const bool nonblocking = g_opts.count("nonblocking") > 0;
  const ExpertPlacement place = place_experts(X, w);
  std::mt19937 rng(1234u + unsigned(R));
  std::vector<float> x(static_cast<size_t>(n * H), float(R)), wts(static_cast<size_t>(n * K));
  std::vector<int32_t> ids(static_cast<size_t>(n * K));
  std::vector<int32_t> all_experts(static_cast<size_t>(X));
  std::iota(all_experts.begin(), all_experts.end(), 0);
  for (int64_t t = 0; t < n; ++t) {
    x[size_t(t * H + 1)] = float(t);
    std::shuffle(all_experts.begin(), all_experts.end(), rng);
    for (int64_t k = 0; k < K; ++k) {
      ids[size_t(t * K + k)] = (t % 5 == 4 && k == K - 1) ? -1 : all_experts[size_t(k)];  // some unused slots
      wts[size_t(t * K + k)] = float(k + 1);
    }
  }
  ExpertExchange ex(w, place, H);
  for (int round = 0; round < 2; ++round) {  // a second layer reuses the exchange
    if (nonblocking) {
      ex.dispatch_begin(x.data(), n, ids.data(), K);
      volatile double busy = 0;  // computation while rows are in flight
      for (int i = 0; i < 100000; ++i) busy = busy + i;
      ex.dispatch_end();
    } else {
      ex.dispatch(x.data(), n, ids.data(), K);
    }
    // Every received row carries its source's rank; pairs name local experts, ascending per row.
    std::vector<int64_t> local_count(size_t(place.per_rank()), 0);
    for (int64_t j = 0; j < ex.received_rows(); ++j) {
      const float* row = ex.received_x() + j * H;
      const int src = ex.received_source()[size_t(j)];
      CHECK(row[0] == float(src) && row[H - 1] == float(src), "row ", j, " from rank ", src, " holds ", row[0]);
      CHECK(row[1] >= 0 && row[1] < float(opt("rows", 37) + src), "row ", j, " index ", row[1]);
    }
    for (int64_t q = 0; q < ex.pairs(); ++q) {
      const int32_t e = ex.pair_expert()[size_t(q)];
      CHECK(place.owner(e) == R, "pair ", q, " names expert ", e, " of rank ", place.owner(e));
      if (q > 0 && ex.pair_row()[size_t(q - 1)] == ex.pair_row()[size_t(q)])
        CHECK(ex.pair_expert()[size_t(q - 1)] < e, "experts of row ", ex.pair_row()[size_t(q)], " not ascending");
      ++local_count[size_t(e - place.first_local())];
    }
    // Tokens per expert: what owners received equals the all-reduced totals of what was routed.
    std::vector<int64_t> routed(static_cast<size_t>(X), 0);
    for (int32_t e : ids)
      if (e >= 0) ++routed[size_t(e)];
    w.all_reduce(routed.data(), X);
    for (int64_t le = 0; le < place.per_rank(); ++le)
      CHECK(local_count[size_t(le)] == routed[size_t(place.first_local() + le)], "expert ", place.first_local() + le,
            " received ", local_count[size_t(le)], " rows, ", routed[size_t(place.first_local() + le)], " were routed");
    // combine ∘ dispatch with identity experts: out = Σ_k w_k · x (small integers: exact).
    std::vector<float> y(size_t(ex.pairs() * H)), out(static_cast<size_t>(n * H), 0.0f);
    for (int64_t q = 0; q < ex.pairs(); ++q)
      std::memcpy(&y[size_t(q * H)], ex.received_x() + ex.pair_row()[size_t(q)] * H, size_t(H) * 4);
    if (nonblocking) {
      ex.combine_begin(y.data());
      ex.combine_end(wts.data(), out.data());
    } else {
      ex.combine(y.data(), wts.data(), out.data());
    }
    for (int64_t t = 0; t < n; ++t) {
      float sw = 0;
      for (int64_t k = 0; k < K; ++k)
        if (ids[size_t(t * K + k)] >= 0) sw += wts[size_t(t * K + k)];
      for (int64_t h = 0; h < H; ++h)
        CHECK(out[size_t(t * H + h)] == sw * x[size_t(t * H + h)], "combined row ", t, " column ", h, " is ",
              out[size_t(t * H + h)], ", expected ", sw * x[size_t(t * H + h)]);
    }
  }
  int64_t bytes = ex.stats().dispatch_bytes + ex.stats().combine_bytes;
  w.all_reduce(&bytes, 1);
  CHECK(N == 1 ? bytes == 0 : bytes > 0, "bytes sent: ", bytes);
}

void spin() {
  Communicator& w = world();
  if (w.rank() == 0) std::printf("ready\n"), std::fflush(stdout);
  for (int64_t i = 0;; ++i) {
    int64_t v = i;
    w.all_reduce(&v, 1);
    if (i % 1000 == 0) usleep(1000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: dist_worker collectives|dispatch|spin [--key value]...\n"), 2;
  const std::string mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = std::string(argv[i]).substr(2);
    g_opts[k] = i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0 ? argv[++i] : "1";
  }
  try {
    if (mode == "collectives") check_collectives();
    else if (mode == "dispatch") check_dispatch();
    else if (mode == "spin") spin();
    else fail("unknown mode ", mode);
    world().barrier();
    if (world().rank() == 0) std::printf("dist_worker %s: ok on %d ranks\n", mode.c_str(), world().size());
    return 0;
  } catch (const std::exception& e) {
    report_error(("dist_worker " + mode).c_str(), e.what());
    return 1;
  }
}
