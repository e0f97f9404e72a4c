// Event simulation of a schedule. Compute operations never wait: whatever they need must already
// be on the rank (computed there or received in an earlier batch), else the schedule is wrong.
// Only communication batches wait, for their peers to post the matching operations.
#include <algorithm>
#include <set>
#include <tuple>

#include "core/error.h"
#include "pipeline/check_detail.h"
#include "pipeline/simulate.h"

namespace dsv3::pipeline {

namespace {

using Key = std::tuple<int, int, int, int>;  // value, dir, micro-batch, stage
Key key(Value v, const Chunk& c) { return {int(v), c.dir, c.mb, c.stage}; }

struct RankState {
  size_t pc = 0;
  double t = 0;
  std::vector<double> posted;  // [op] time the rank posted a communication batch, -1 before
  std::set<Key> have;          // activations and input gradients computed here or received
};

class Simulation {
 public:
  Simulation(const Schedule& s, const OpCost& cost, double p2p, bool rendezvous)
      : s_(s), cost_(cost), p2p_(p2p), rendezvous_(rendezvous), pairs_(pair_messages(s)), st_(size_t(s.ranks)) {
    tl_.spans.resize(size_t(s.ranks));
    tl_.busy.assign(size_t(s.ranks), 0);
    tl_.finish.assign(size_t(s.ranks), 0);
    for (int r = 0; r < s.ranks; ++r) st_[size_t(r)].posted.assign(s.ops[size_t(r)].size(), -1);
  }

  Timeline run() {
    for (bool progress = true; progress;) {
      progress = false;
      for (int r = 0; r < s_.ranks; ++r)
        while (step(r)) progress = true;
    }
    for (int r = 0; r < s_.ranks; ++r)
      if (st_[size_t(r)].pc < s_.ops[size_t(r)].size()) deadlock();
    for (int r = 0; r < s_.ranks; ++r) {
      tl_.finish[size_t(r)] = st_[size_t(r)].t;
      tl_.makespan = std::max(tl_.makespan, st_[size_t(r)].t);
    }
    return std::move(tl_);
  }

 private:
  // Runs rank r's next operation if it can; false when it is done or waiting on a peer.
  bool step(int r) {
    RankState& st = st_[size_t(r)];
    const auto& ops = s_.ops[size_t(r)];
    if (st.pc >= ops.size()) return false;
    const Op& op = ops[st.pc];
    double end = st.t;
    if (op.kind == OpKind::kComm) {
      if (st.posted[st.pc] < 0) st.posted[st.pc] = st.t;
      for (size_t k = 0; k < op.comm.size(); ++k) {
        if (op.comm[k].send && !rendezvous_) continue;
        const Partner& p = pairs_[size_t(r)][st.pc][k];
        const double peer_posted = st_[size_t(p.rank)].posted[p.op];
        if (peer_posted < 0) return false;
        end = std::max(end, peer_posted);
      }
      end += p2p_;
      // A value must be on the rank when its send is posted, not arrive in the same batch.
      for (const Message& m : op.comm)
        if (m.send) require(r, op, key(m.value, m.of), "the value it sends");
      for (const Message& m : op.comm)
        if (!m.send) st.have.insert(key(m.value, m.of));
    } else {
      compute(r, op);
      end += cost_(op);
      tl_.busy[size_t(r)] += end - st.t;
    }
    tl_.spans[size_t(r)].push_back({int(st.pc), st.t, end});
    st.t = end;
    ++st.pc;
    return true;
  }

  void require(int r, const Op& op, const Key& k, const char* what) const {
    if (!st_[size_t(r)].have.count(k))
      fail(schedule_name(s_.kind), ": rank ", r, " op ", st_[size_t(r)].pc, " (", op_label(op), ") runs before ", what,
           " is on the rank");
  }

  void forward(int r, const Op& op, const Chunk& c) {
    if (c.stage > 0) require(r, op, key(Value::kAct, {c.dir, c.mb, c.stage - 1}), "its input activation");
    st_[size_t(r)].have.insert(key(Value::kAct, c));
  }

  void backward(int r, const Op& op, const Chunk& c) {
    require(r, op, key(Value::kAct, c), "its own forward");
    if (c.stage < s_.stages - 1) require(r, op, key(Value::kGrad, {c.dir, c.mb, c.stage + 1}), "its output gradient");
    st_[size_t(r)].have.insert(key(Value::kGrad, c));
  }

  void compute(int r, const Op& op) {
    switch (op.kind) {
      case OpKind::kF: return forward(r, op, op.a);
      case OpKind::kB:
      case OpKind::kBW: return backward(r, op, op.a);
      case OpKind::kW: return require(r, op, key(Value::kGrad, op.a), "its input-gradient backward");
      case OpKind::kFB: forward(r, op, op.a); return backward(r, op, op.b);
      case OpKind::kComm: return;
    }
  }

  [[noreturn]] void deadlock() const {
    std::string who;
    for (int r = 0; r < s_.ranks; ++r) {
      const RankState& st = st_[size_t(r)];
      if (st.pc >= s_.ops[size_t(r)].size()) continue;
      const Op& op = s_.ops[size_t(r)][st.pc];
      for (size_t k = 0; k < op.comm.size(); ++k) {
        const Partner& p = pairs_[size_t(r)][st.pc][k];
        if ((op.comm[k].send && !rendezvous_) || st_[size_t(p.rank)].posted[p.op] >= 0) continue;
        who += cat(who.empty() ? "" : "; ", "rank ", r, " op ", st.pc, " waits for rank ", p.rank, " op ", p.op);
        break;
      }
    }
    fail(schedule_name(s_.kind), ": deadlock: ", who);
  }

  const Schedule& s_;
  const OpCost& cost_;
  double p2p_;
  bool rendezvous_;
  MessagePairs pairs_;
  std::vector<RankState> st_;
  Timeline tl_;
};

}  // namespace

double op_cost(const Op& op, const Costs& c) {
  switch (op.kind) {
    case OpKind::kF: return c.f;
    case OpKind::kB: return c.b - c.w;
    case OpKind::kW: return c.w;
    case OpKind::kBW: return c.b;
    case OpKind::kFB: return c.fb;
    case OpKind::kComm: return 0;
  }
  return 0;
}

Timeline simulate(const Schedule& s, const Costs& c, bool rendezvous) {
  return simulate(s, [&c](const Op& op) { return op_cost(op, c); }, c.p2p, rendezvous);
}

Timeline simulate(const Schedule& s, const OpCost& cost, double p2p, bool rendezvous) {
  check_schedule(s);
  return Simulation(s, cost, p2p, rendezvous).run();
}

}  // namespace dsv3::pipeline
