// src/dist in one process: the single-process backend, layouts and their errors, the expert
// exchange with one rank, and expert-parallel MoE through the model equal to moe_forward bit for
// bit. The multi-rank checks run under mpirun (dist_worker.cpp, ep_cli.sh).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <numeric>

#include "core/error.h"
#include "dist/dispatch.h"
#include "dist/expert_parallel.h"
#include "dist/timeline.h"
#include "dist/timeline_svg.h"
#include "dist/world.h"
#include "io/checkpoint.h"
#include "model/model.h"
#include "test_util.h"

namespace dsv3::dist {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LocalCommunicator, CollectivesAreCopies) {
  auto c = local_communicator();
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  float v[3] = {1, 2, 3};
  c->all_reduce(v, 3);
  EXPECT_EQ(v[2], 3.0f);
  float out[3];
  c->reduce_scatter(v, out, 3, Elem::F32);
  c->all_gather(v, out, {3}, Elem::F32);
  EXPECT_EQ(std::memcmp(v, out, sizeof v), 0);
  const std::vector<int64_t> counts{3};
  float a2a[3];
  c->all_to_all(v, counts, a2a, counts, Elem::F32);
  EXPECT_EQ(a2a[1], 2.0f);
  EXPECT_EQ(c->exchange_counts({5}), std::vector<int64_t>{5});
  EXPECT_EQ(c->split(3, 0)->size(), 1);
}

TEST(LocalCommunicator, SendToSelfIsQueuedAndMismatchesAreErrors) {
  auto c = local_communicator();
  const int64_t a = 7, b = 8;
  c->send(&a, 1, Elem::I64, 0, 1);
  c->send(&b, 1, Elem::I64, 0, 2);
  int64_t got = 0;
  c->recv(&got, 1, Elem::I64, 0, 2);
  EXPECT_EQ(got, 8);
  c->recv(&got, 1, Elem::I64, 0, 1);
  EXPECT_EQ(got, 7);
  EXPECT_NE(error_of([&] { c->recv(&got, 1, Elem::I64, 0, 1); }).find("no message was sent"), std::string::npos);
  EXPECT_NE(error_of([&] { c->send(&a, 1, Elem::I64, 1, 0); }).find("rank 1 does not exist"), std::string::npos);
  float x = 0;
  EXPECT_NE(error_of([&] { c->all_to_all(&x, {1}, &x, {2}, Elem::F32); }).find("all_to_all"), std::string::npos);
}

TEST(Layout, OneProcessAcceptsOnlyTheTrivialLayout) {
  auto w = local_communicator();
  const Groups g = make_groups(*w, {1, 1, 1});
  EXPECT_EQ(g.data->size(), 1);
  EXPECT_EQ(g.expert->size(), 1);
  EXPECT_EQ(error_of([&] { make_groups(*w, {2, 1, 1}); }),
            "layout --dp 2 × --pp 1 = 2 ranks, but the job has 1 (mpirun -np)");
  EXPECT_EQ(error_of([&] { make_groups(*w, {1, 1, 0}); }), "--dp, --pp and --ep must be at least 1");
}

// serve --ep's scheduler thread communicates: below MPI_THREAD_SERIALIZED that is undefined
// behaviour inside MPI, so serve --ep fails with this line instead.
TEST(ThreadLevel, BelowSerializedIsNamedAndOneProcessIsFine) {
  EXPECT_EQ(serialized_threads_problem(ThreadLevel::kFunneled).rfind(
                "this MPI does not support MPI_THREAD_SERIALIZED (it provides MPI_THREAD_FUNNELED)", 0),
            0u);
  EXPECT_NE(serialized_threads_problem(ThreadLevel::kSingle).find("MPI_THREAD_SINGLE"), std::string::npos);
  EXPECT_EQ(serialized_threads_problem(ThreadLevel::kSerialized), "");
  EXPECT_EQ(serialized_threads_problem(ThreadLevel::kMultiple), "");
  EXPECT_EQ(world_thread_level(), ThreadLevel::kMultiple);  // no world opened here: no MPI
}

TEST(ExpertPlacement, ConsecutiveBlocksPerRank) {
  const ExpertPlacement p{256, 64, 3};
  EXPECT_EQ(p.per_rank(), 4);
  EXPECT_EQ(p.first_local(), 12);
  EXPECT_EQ(p.owner(12), 3);
  EXPECT_EQ(p.owner(255), 63);
  auto w = local_communicator();
  EXPECT_EQ(place_experts(16, *w).per_rank(), 16);
  EXPECT_NE(error_of([&] { place_experts(0, *w); }).find("does not divide the 0 routed experts"), std::string::npos);
}

TEST(ExpertExchange, CombineOfDispatchWithIdentityExpertsGivesWeightedInputBack) {
  auto w = local_communicator();
  const int64_t n = 5, K = 2, H = 4;
  std::vector<float> x(static_cast<size_t>(n * H));
  std::iota(x.begin(), x.end(), 1.0f);
  const std::vector<int32_t> ids{3, 1, 0, -1, 2, 3, 1, 0, 3, 2};
  const std::vector<float> wts{1, 2, 4, 8, 1, 1, 2, 2, 1, 4};
  ExpertExchange ex(*w, place_experts(4, *w), H);
  ex.dispatch(x.data(), n, ids.data(), K);
  ASSERT_EQ(ex.received_rows(), n);  // each row once, however many of its experts are here
  ASSERT_EQ(ex.pairs(), 9);
  EXPECT_EQ(ex.pair_expert()[0], 1);  // row 0's experts in ascending id
  EXPECT_EQ(ex.pair_expert()[1], 3);
  std::vector<float> y(size_t(ex.pairs() * H)), out(static_cast<size_t>(n * H), 0.0f);
  for (int64_t q = 0; q < ex.pairs(); ++q)
    std::memcpy(&y[size_t(q * H)], ex.received_x() + ex.pair_row()[size_t(q)] * H, size_t(H) * 4);
  ex.combine(y.data(), wts.data(), out.data());
  for (int64_t t = 0; t < n; ++t) {
    float sw = 0;
    for (int64_t k = 0; k < K; ++k) sw += ids[size_t(t * K + k)] >= 0 ? wts[size_t(t * K + k)] : 0.0f;
    for (int64_t h = 0; h < H; ++h) EXPECT_EQ(out[size_t(t * H + h)], sw * x[size_t(t * H + h)]) << t << "," << h;
  }
  EXPECT_EQ(ex.stats().dispatch_bytes, 0);  // nothing left the process
}

// The expert-parallel MoE, with every expert in this process, is moe_forward bit for bit:
// routing, the expert batches and the order of the weighted sum are the same.
TEST(ExpertParallelMoe, OneRankEqualsMoeForwardExactly) {
  for (const char* name : {"v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"}) {
    auto m = Model::load(test::model_path(name));
    const int64_t T = 11, H = m->config().hidden_size, V = m->config().vocab_size;
    auto run = [&] {
      TokenBatch b;
      for (int64_t i = 0; i < T; ++i) b.add(int32_t((i * 37 + 5) % V), int32_t(i), 0);
      SequenceCache c = m->new_cache();
      SequenceCache* cs[] = {&c};
      std::vector<float> h(static_cast<size_t>(T * H)), l(static_cast<size_t>(T * V));
      std::vector<ExpertLoad> load;
      m->forward(b, cs, h.data(), &load);
      m->logits(l.data(), h.data(), T);
      for (const auto& e : load) l.insert(l.end(), e.tokens_per_expert.begin(), e.tokens_per_expert.end());
      return l;
    };
    const std::vector<float> plain = run();
    auto w = local_communicator();
    ExpertParallelMoe ep(*w, m->config().n_routed_experts, H);
    m->set_moe_runner(&ep);
    const std::vector<float> parallel = run();
    m->set_moe_runner(nullptr);
    ASSERT_EQ(plain.size(), parallel.size());
    EXPECT_EQ(std::memcmp(plain.data(), parallel.data(), plain.size() * 4), 0) << name;
    EXPECT_GT(ep.rows_through_layers(), 0);
  }
}

TEST(CheckpointFingerprint, SameFolderSameValueOtherFolderOtherValue) {
  auto fp = [](const std::string& name) {
    const std::string dir = test::model_path(name);
    const Checkpoint ck(dir);
    return checkpoint_fingerprint(dir + "/config.json", ck);
  };
  EXPECT_EQ(fp("v3-tiny"), fp("v3-tiny"));
  EXPECT_NE(fp("v3-tiny"), fp("v3-tiny-fp8"));
  EXPECT_NE(fp("v3-tiny"), fp("v2-lite-tiny"));
}

TEST(Timeline, WritesChromeTraceEventsOfEverySpan) {
  auto w = local_communicator();
  Timeline t(*w);
  { Timeline::Span s(&t, "router", "compute"); }
  { Timeline::Span s(&t, "combine", "communication"); }
  { Timeline::Span s(nullptr, "ignored", "compute"); }  // profiling off: nothing recorded
  EXPECT_EQ(t.size(), 2u);
  test::TempDir dir;
  t.write(dir.file("trace.json"));
  const auto j = nlohmann::json::parse(test::read_text(dir.file("trace.json")));
  const auto& ev = j.at("traceEvents");
  ASSERT_EQ(ev.size(), 3u);  // the rank's name, then the spans in order
  EXPECT_EQ(ev[0].at("ph"), "M");
  EXPECT_EQ(ev[1].at("name"), "router");
  EXPECT_EQ(ev[2].at("cat"), "communication");
  EXPECT_EQ(ev[2].at("ph"), "X");
  EXPECT_GE(ev[2].at("ts").get<double>(), ev[1].at("ts").get<double>() + ev[1].at("dur").get<double>());
  EXPECT_EQ(ev[1].at("pid"), 0);
  EXPECT_GE(t.total_us("compute"), 0.0);

  // dsv3 plot --profile: a lane per rank, a box per span in the window.
  const std::string svg = trace_svg(j, 0, 0, "t<1>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<title>router "), std::string::npos);
  EXPECT_NE(svg.find("<title>combine "), std::string::npos);
  EXPECT_NE(svg.find("t&lt;1&gt;"), std::string::npos);
  EXPECT_NE(error_of([] { trace_svg(nlohmann::json::object(), 0, 0, ""); }).find("traceEvents"), std::string::npos);
}

}  // namespace
}  // namespace dsv3::dist
