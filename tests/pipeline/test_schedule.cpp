// Schedules as data: complete, dependency-respecting, deadlock-free under blocking send/receive,
// and with the bubbles and memory of the DeepSeek-V3 report's Table 2.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "pipeline/simulate.h"

namespace dsv3::pipeline {
namespace {

const ScheduleKind kAll[] = {ScheduleKind::k1F1B, ScheduleKind::kZB1P, ScheduleKind::kDualPipe, ScheduleKind::kDualPipeV};

// Cost sets with F&B = F + B (no overlap gain). The first two have Figure 5's equal cells
// (F = B - W = W), where every formula of Table 2 is exact for any P; with other ratios the
// 1F1B and ZB1P formulas stay exact and DualPipe's comes near (see the next test).
const Costs kCosts[] = {{1, 2, 1, 3, 0}, {2.5, 5, 2.5, 7.5, 0}, {2, 4, 1, 6, 0}, {1, 3, 0.5, 4, 0}, {1.5, 2.5, 1.25, 4, 0}};

bool equal_cells(const Costs& c) { return c.f == c.w && c.b == 2 * c.w; }

std::string what(ScheduleKind k, int p, int m) { return cat(schedule_name(k), " P=", p, " M=", m); }

TEST(PipelineSchedule, EveryScheduleIsCompleteAndRunsUnderBlockingSendAndReceive) {
  for (ScheduleKind k : kAll)
    for (int p : {2, 4, 6, 8})
      for (int m : {2 * p, 2 * p + 2, 3 * p, 20}) {
        const Schedule s = make_schedule(k, p, m);
        EXPECT_NO_THROW(simulate(s, Costs{}, true)) << what(k, p, m);
        EXPECT_NO_THROW(simulate(s, Costs{}, false)) << what(k, p, m);
      }
  for (ScheduleKind k : {ScheduleKind::k1F1B, ScheduleKind::kZB1P})
    for (int m : {1, 2, 3}) EXPECT_NO_THROW(simulate(make_schedule(k, 4, m), Costs{}, true)) << schedule_name(k) << " M=" << m;
}

TEST(PipelineSchedule, BubblesEqualTable2WhenChunksDoNotOverlap) {
  for (const Costs& c : kCosts)
    for (int p : {2, 4, 8})
      for (int m : {2 * p, 3 * p, 4 * p + 2}) {
        const double f = c.f, b = c.b, w = c.w, fb = c.fb;
        const Timeline t1 = simulate(make_schedule(ScheduleKind::k1F1B, p, m), c);
        const Timeline tz = simulate(make_schedule(ScheduleKind::kZB1P, p, m), c);
        const Timeline td = simulate(make_schedule(ScheduleKind::kDualPipe, p, m), c);
        const Timeline tv = simulate(make_schedule(ScheduleKind::kDualPipeV, p, m), c);
        const int pp_v = 2 * p;  // DualPipeV: 2P stages on P ranks; Table 2 counts stages
        for (int r = 0; r < p; ++r) {
          EXPECT_DOUBLE_EQ(t1.bubble(r), (p - 1) * (f + b)) << what(ScheduleKind::k1F1B, p, m) << " rank " << r;
          EXPECT_DOUBLE_EQ(tz.bubble(r), (p - 1) * (f + b - 2 * w)) << what(ScheduleKind::kZB1P, p, m) << " rank " << r;
          if (!equal_cells(c)) continue;
          EXPECT_DOUBLE_EQ(td.bubble(r), (p / 2 - 1) * (fb + b - 3 * w)) << what(ScheduleKind::kDualPipe, p, m) << " rank " << r;
          EXPECT_DOUBLE_EQ(tv.bubble(r), (pp_v / 2 - 1) * (fb + b - 3 * w)) << what(ScheduleKind::kDualPipeV, p, m) << " rank " << r;
        }
      }
}

TEST(PipelineSchedule, DualPipeBubbleStaysNearTable2ForOtherCostRatios) {
  // The formula counts Figure 5's cells; with other ratios the critical path shifts a little.
  for (const Costs& c : kCosts)
    for (int p : {4, 8, 16}) {
      const Timeline t = simulate(make_schedule(ScheduleKind::kDualPipe, p, 2 * p), c);
      for (int r = 0; r < p; ++r)
        EXPECT_NEAR(t.bubble(r), (p / 2 - 1) * (c.fb + c.b - 3 * c.w), 2.0 * c.w) << "P=" << p << " rank " << r;
    }
}

TEST(PipelineSchedule, OverlappedChunksOnlyShrinkDualPipesBubble) {
  // With F&B < F + B the chunks DualPipe leaves unpaired cost more than their share of a pair,
  // so Table 2's formula is an upper bound on every rank's idle time, short of it by whole
  // multiples of the overlap gain F + B - F&B.
  const Costs c{2, 4, 1, 5, 0};
  for (int p : {2, 4, 8}) {
    const Timeline t = simulate(make_schedule(ScheduleKind::kDualPipe, p, 3 * p), c);
    const double formula = (p / 2 - 1) * (c.fb + c.b - 3 * c.w), gain = c.f + c.b - c.fb;
    for (int r = 0; r < p; ++r) {
      EXPECT_LE(t.bubble(r), formula) << "P=" << p << " rank " << r;
      const double k = (formula - t.bubble(r)) / gain;
      EXPECT_DOUBLE_EQ(k, double(int64_t(k))) << "P=" << p << " rank " << r;
    }
  }
}

TEST(PipelineSchedule, ParametersAndActivationsPerDeviceMatchTable2) {
  for (int p : {2, 4, 8}) {
    const int m = 4 * p;
    const auto a1 = peak_activations(make_schedule(ScheduleKind::k1F1B, p, m));
    const auto az = peak_activations(make_schedule(ScheduleKind::kZB1P, p, m));
    const auto ad = peak_activations(make_schedule(ScheduleKind::kDualPipe, p, m));
    const auto av = peak_activations(make_schedule(ScheduleKind::kDualPipeV, p, m));
    for (int r = 0; r < p; ++r) {
      EXPECT_EQ(a1[size_t(r)], p - r) << "1f1b rank " << r;  // PP on the first rank
      EXPECT_EQ(az[size_t(r)], p) << "zb1p rank " << r;       // ZB-H1 keeps 1F1B's peak
      EXPECT_EQ(ad[size_t(r)], p + 1) << "dualpipe rank " << r;
      EXPECT_EQ(av[size_t(r)], 2 * p + 1) << "dualpipev rank " << r;  // PP = 2P stages
    }
    EXPECT_EQ(modules_per_rank(make_schedule(ScheduleKind::k1F1B, p, m)), 1);
    EXPECT_EQ(modules_per_rank(make_schedule(ScheduleKind::kDualPipe, p, m)), 2);  // 2x parameters
    EXPECT_EQ(modules_per_rank(make_schedule(ScheduleKind::kDualPipeV, p, m)), 2);
  }
}

TEST(PipelineSchedule, DualPipeFollowsTheEightStepsOfDeepSeeksDualPipe) {
  // P=4, 8 micro-batches (4 per direction), rank 0: nF0 (2), nF0F1 (1), nB1W1F1 (1),
  // nF0B1F1B0 (main step, 2 pairs + 1), nB1F1B0 (1), nB1B0 (1, W deferred), nWB0 (1), nW (1).
  const Schedule s = make_schedule(ScheduleKind::kDualPipe, 4, 8);
  std::string rank0;
  for (const Op& op : s.ops[0])
    if (op.kind != OpKind::kComm) rank0 += op_label(op) + " ";
  EXPECT_EQ(rank0,
            "F0.0@s0 F0.1@s0 F0.2@s0 F1.0@s3 B1.0@s3 W1.0@s3 F1.1@s3 F0.3@s0&BW1.1@s3 F1.2@s3&BW0.0@s0 BW1.2@s3 "
            "F1.3@s3&BW0.1@s0 BW1.3@s3 B0.2@s0 W0.2@s0 B0.3@s0 W0.3@s0 ");
  // The middle ranks hold the middle stages of both directions.
  EXPECT_EQ(s.rank_of(0, 1), 1);
  EXPECT_EQ(s.rank_of(1, 1), 2);
}

TEST(PipelineSchedule, ForwardOnlySchedulesStreamEveryMicroBatchThroughEveryStage) {
  for (ScheduleKind k : kAll)
    for (int p : {2, 4, 8}) {
      const Schedule s = make_schedule(k, p, 2 * p + 2, true);
      for (const auto& ops : s.ops)
        for (const Op& op : ops) EXPECT_TRUE(op.kind == OpKind::kF || op.kind == OpKind::kComm) << op_label(op);
      EXPECT_NO_THROW(simulate(s, Costs{}, true)) << what(k, p, 2 * p + 2);
    }
  // Streaming through P stages: the first result after P forwards, then one per forward.
  const Timeline t = simulate(make_schedule(ScheduleKind::k1F1B, 4, 10, true), Costs{});
  for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ(t.bubble(r), 3.0);
}

TEST(PipelineSchedule, CountsTheScheduleCannotTakeAreClearErrors) {
  auto error_of = [](ScheduleKind k, int p, int m) {
    try {
      make_schedule(k, p, m);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(ScheduleKind::kDualPipe, 3, 12).find("even number of pipeline ranks"), std::string::npos);
  EXPECT_NE(error_of(ScheduleKind::kDualPipe, 4, 9).find("even number of micro-batches"), std::string::npos);
  EXPECT_NE(error_of(ScheduleKind::kDualPipe, 4, 6).find("at least 2 x ranks = 8"), std::string::npos);
  EXPECT_NE(error_of(ScheduleKind::kDualPipeV, 4, 7).find("at least 2 x ranks = 8"), std::string::npos);
  EXPECT_NE(error_of(ScheduleKind::k1F1B, 0, 3).find("at least 1 rank"), std::string::npos);
  EXPECT_THROW(parse_schedule_kind("gpipe"), Error);
}

std::string simulate_error(const Schedule& s, bool rendezvous) {
  try {
    simulate(s, Costs{}, rendezvous);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PipelineSchedule, CheckerFindsDeadlocksMissingChunksAndMismatchedMessages) {
  // 1F1B, P=2, one micro-batch. Rank 0: F, comm[send act, recv grad], BW.
  const Schedule good = make_schedule(ScheduleKind::k1F1B, 2, 1);
  ASSERT_EQ(good.ops[0].size(), 3u);
  ASSERT_EQ(good.ops[0][1].comm.size(), 2u);

  Schedule recv_first = good;  // rank 0 waits for the gradient before sending the activation
  Op send = recv_first.ops[0][1], recv = send;
  send.comm.pop_back();
  recv.comm.erase(recv.comm.begin());
  recv_first.ops[0][1] = recv;
  recv_first.ops[0].insert(recv_first.ops[0].begin() + 2, send);
  EXPECT_NE(simulate_error(recv_first, false).find("deadlock: rank 0 op 1 waits for rank 1"), std::string::npos);

  Schedule missing = good;  // rank 1 never runs its backward
  missing.ops[1].erase(missing.ops[1].begin() + 2);
  EXPECT_NE(simulate_error(missing, false).find("0 full backward"), std::string::npos);

  Schedule early = good;  // rank 0 runs its backward before the gradient arrives
  std::swap(early.ops[0][1], early.ops[0][2]);
  EXPECT_NE(simulate_error(early, false).find("before its output gradient is on the rank"), std::string::npos);

  Schedule crossed = make_schedule(ScheduleKind::k1F1B, 2, 2);  // activations sent out of order
  for (Op& op : crossed.ops[0])
    for (Message& m : op.comm)
      if (m.send) m.of.mb = 1 - m.of.mb;
  EXPECT_NE(simulate_error(crossed, false).find("do not pair up in order"), std::string::npos);
}

TEST(PipelineSchedule, BlockingSendsDeadlockWhereBufferedSendsDoNot) {
  // P = 2, two micro-batches, every send in its own batch: rank 0 sends the second activation
  // before receiving the first gradient, rank 1 sends that gradient before receiving the second
  // activation. With buffered sends both go through; with blocking ones each waits for the other.
  Schedule s;
  s.kind = ScheduleKind::k1F1B;
  s.ranks = s.stages = 2;
  s.micro_batches = 2;
  auto compute = [](OpKind k, int mb, int stage) { return Op{k, {0, mb, stage}, {}, {}}; };
  auto comm = [](bool send, int peer, Value v, int mb, int stage) {
    return Op{OpKind::kComm, {}, {}, {Message{send, peer, v, {0, mb, stage}}}};
  };
  s.ops = {{compute(OpKind::kF, 0, 0), comm(true, 1, Value::kAct, 0, 0), compute(OpKind::kF, 1, 0),
            comm(true, 1, Value::kAct, 1, 0), comm(false, 1, Value::kGrad, 0, 1), compute(OpKind::kBW, 0, 0),
            comm(false, 1, Value::kGrad, 1, 1), compute(OpKind::kBW, 1, 0)},
           {comm(false, 0, Value::kAct, 0, 0), compute(OpKind::kF, 0, 1), compute(OpKind::kBW, 0, 1),
            comm(true, 0, Value::kGrad, 0, 1), comm(false, 0, Value::kAct, 1, 0), compute(OpKind::kF, 1, 1),
            compute(OpKind::kBW, 1, 1), comm(true, 0, Value::kGrad, 1, 1)}};
  EXPECT_EQ(simulate_error(s, false), "");
  EXPECT_NE(simulate_error(s, true).find("deadlock: rank 0 op 3 waits for rank 1 op 4; rank 1 op 3 waits for rank 0 op 4"),
            std::string::npos)
      << simulate_error(s, true);
}

TEST(PipelineSchedule, RendezvousWaitsLongerThanEagerSendsButNeverChangesTheWork) {
  const Costs c{1, 2, 1, 3, 0.25};
  for (ScheduleKind k : kAll) {
    const Schedule s = make_schedule(k, 4, 8);
    const Timeline eager = simulate(s, c, false), blocking = simulate(s, c, true);
    EXPECT_GE(blocking.makespan, eager.makespan) << schedule_name(k);
    for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ(blocking.busy[size_t(r)], eager.busy[size_t(r)]) << schedule_name(k);
  }
}

}  // namespace
}  // namespace dsv3::pipeline
