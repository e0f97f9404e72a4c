// Structural checks of a schedule: every chunk's F and backward exactly once on the rank that
// holds its stage, and sends/receives that pair up in order between every two ranks.
#include <map>
#include <tuple>

#include "core/error.h"
#include "pipeline/check_detail.h"
#include "pipeline/simulate.h"

namespace dsv3::pipeline {

namespace {

struct Count {
  int f = 0, b = 0, w = 0, bw = 0;
};

void count_compute(const Schedule& s, std::map<std::tuple<int, int, int>, Count>& counts) {
  for (int r = 0; r < s.ranks; ++r) {
    const auto& ops = s.ops[size_t(r)];
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      if (op.kind == OpKind::kComm) continue;
      for (int part = 0; part < (op.kind == OpKind::kFB ? 2 : 1); ++part) {
        const Chunk& c = part ? op.b : op.a;
        if (c.dir < 0 || c.dir >= s.dirs || c.mb < 0 || c.mb >= s.micro_batches_per_dir() || c.stage < 0 || c.stage >= s.stages)
          fail("rank ", r, " op ", i, " (", op_label(op), "): no such micro-batch or stage");
        if (s.rank_of(c.dir, c.stage) != r)
          fail("rank ", r, " op ", i, " (", op_label(op), "): stage ", c.stage, " is held by rank ", s.rank_of(c.dir, c.stage));
      }
      Count& a = counts[{op.a.dir, op.a.mb, op.a.stage}];
      switch (op.kind) {
        case OpKind::kF: ++a.f; break;
        case OpKind::kB: ++a.b; break;
        case OpKind::kW: ++a.w; break;
        case OpKind::kBW: ++a.bw; break;
        case OpKind::kFB: ++a.f, ++counts[{op.b.dir, op.b.mb, op.b.stage}].bw; break;
        case OpKind::kComm: break;
      }
    }
  }
}

void check_complete(const Schedule& s) {
  std::map<std::tuple<int, int, int>, Count> counts;
  count_compute(s, counts);
  for (int d = 0; d < s.dirs; ++d)
    for (int m = 0; m < s.micro_batches_per_dir(); ++m)
      for (int st = 0; st < s.stages; ++st) {
        const Count c = counts[{d, m, st}];
        const bool split = c.bw == 0 && c.b == 1 && c.w == 1, full = c.bw == 1 && c.b == 0 && c.w == 0;
        const bool none = c.bw == 0 && c.b == 0 && c.w == 0;
        if (c.f != 1 || !(s.forward_only ? none : split || full))
          fail(schedule_name(s.kind), ": micro-batch ", m, " (direction ", d, ") at stage ", st, " has ", c.f, " F, ",
               c.b, " B, ", c.w, " W, ", c.bw, " full backward (need 1 F and either B+W or one full backward)");
      }
}

// The rank a message must come from or go to, given what it carries.
void check_endpoints(const Schedule& s, int r, size_t i, const Message& m) {
  const Chunk& c = m.of;
  const int to = m.value == Value::kAct ? c.stage + 1 : c.stage - 1;
  const bool ok = to >= 0 && to < s.stages &&
                  (m.send ? (s.rank_of(c.dir, c.stage) == r && s.rank_of(c.dir, to) == m.peer)
                          : (s.rank_of(c.dir, c.stage) == m.peer && s.rank_of(c.dir, to) == r));
  if (!ok) fail("rank ", r, " op ", i, ": message ", m.send ? "to " : "from ", m.peer, " of stage ", c.stage, " goes to the wrong rank");
}

}  // namespace

MessagePairs pair_messages(const Schedule& s) {
  struct End {
    int rank;
    size_t op;
    const Message* msg;
  };
  std::map<std::pair<int, int>, std::vector<End>> sends, recvs;  // keyed by (from, to)
  MessagePairs pairs(size_t(s.ranks));
  for (int r = 0; r < s.ranks; ++r) {
    const auto& ops = s.ops[size_t(r)];
    pairs[size_t(r)].resize(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      pairs[size_t(r)][i].resize(ops[i].comm.size());
      for (const Message& m : ops[i].comm) {
        if (m.peer < 0 || m.peer >= s.ranks || m.peer == r) fail("rank ", r, " op ", i, ": message with bad peer ", m.peer);
        check_endpoints(s, r, i, m);
        (m.send ? sends[{r, m.peer}] : recvs[{m.peer, r}]).push_back({r, i, &m});
      }
    }
  }
  for (auto& [link, out] : sends) {
    const auto& in = recvs[link];
    for (size_t k = 0; k < out.size(); ++k) {
      if (k >= in.size() || in[k].msg->value != out[k].msg->value || !(in[k].msg->of == out[k].msg->of))
        fail("messages from rank ", link.first, " to rank ", link.second, " do not pair up in order: send #", k, " (",
             op_label(s.ops[size_t(link.first)][out[k].op]), ") meets ",
             k < in.size() ? op_label(s.ops[size_t(link.second)][in[k].op]) : std::string("no receive"));
      const auto slot = [&](const End& e) {
        const auto& comm = s.ops[size_t(e.rank)][e.op].comm;
        return size_t(e.msg - comm.data());
      };
      pairs[size_t(link.first)][out[k].op][slot(out[k])] = {link.second, in[k].op};
      pairs[size_t(link.second)][in[k].op][slot(in[k])] = {link.first, out[k].op};
    }
    if (in.size() > out.size()) fail("rank ", link.second, " receives ", in.size(), " messages from rank ", link.first, " which sends ", out.size());
  }
  for (auto& [link, in] : recvs)
    if (!sends.count(link) && !in.empty()) fail("rank ", link.second, " receives from rank ", link.first, " which never sends to it");
  return pairs;
}

void check_schedule(const Schedule& s) {
  if (int(s.ops.size()) != s.ranks) fail(schedule_name(s.kind), ": ", s.ops.size(), " operation lists for ", s.ranks, " ranks");
  check_complete(s);
  pair_messages(s);
}

int modules_per_rank(const Schedule& s) { return s.dirs * s.stages / s.ranks; }

std::vector<int> peak_activations(const Schedule& s) {
  std::vector<int> peak(size_t(s.ranks), 0);
  for (int r = 0; r < s.ranks; ++r) {
    int held = 0;
    for (const Op& op : s.ops[size_t(r)]) {
      if (op.kind == OpKind::kF || op.kind == OpKind::kFB) ++held;
      peak[size_t(r)] = std::max(peak[size_t(r)], held);
      if (op.kind == OpKind::kBW || op.kind == OpKind::kW || op.kind == OpKind::kFB) --held;
    }
  }
  return peak;
}

}  // namespace dsv3::pipeline
