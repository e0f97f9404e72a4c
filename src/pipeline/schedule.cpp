#include "pipeline/schedule.h"

#include <sstream>

#include "core/error.h"
#include "pipeline/schedule_builders.h"

namespace dsv3::pipeline {

ScheduleKind parse_schedule_kind(const std::string& name) {
  for (ScheduleKind k : {ScheduleKind::k1F1B, ScheduleKind::kZB1P, ScheduleKind::kDualPipe, ScheduleKind::kDualPipeV})
    if (name == schedule_name(k)) return k;
  fail("unknown pipeline schedule '", name, "' (expected 1f1b, zb1p, dualpipe or dualpipev)");
}

const char* schedule_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::k1F1B: return "1f1b";
    case ScheduleKind::kZB1P: return "zb1p";
    case ScheduleKind::kDualPipe: return "dualpipe";
    case ScheduleKind::kDualPipeV: return "dualpipev";
  }
  return "?";
}

int Schedule::rank_of(int dir, int stage) const {
  switch (kind) {
    case ScheduleKind::kDualPipe: return dir == 0 ? stage : ranks - 1 - stage;
    case ScheduleKind::kDualPipeV: return stage < ranks ? stage : 2 * ranks - 1 - stage;
    default: return stage;
  }
}

Schedule make_schedule(ScheduleKind kind, int ranks, int micro_batches, bool forward_only) {
  if (ranks < 1) fail("pipeline: need at least 1 rank, got ", ranks);
  if (micro_batches < 1) fail("pipeline: need at least 1 micro-batch, got ", micro_batches);
  // Bounds that keep a schedule's lists (a few operations per chunk) well inside memory.
  if (ranks > 4096 || micro_batches > (1 << 18) || int64_t(ranks) * micro_batches > (1 << 18))
    fail("pipeline: ", ranks, " ranks x ", micro_batches, " micro-batches is more than this simulator takes (2^18 chunks)");
  Schedule s;
  s.kind = kind;
  s.forward_only = forward_only;
  switch (kind) {
    case ScheduleKind::k1F1B: build_1f1b(s, ranks, micro_batches, false); break;
    case ScheduleKind::kZB1P: build_1f1b(s, ranks, micro_batches, true); break;
    case ScheduleKind::kDualPipe: build_dualpipe(s, ranks, micro_batches); break;
    case ScheduleKind::kDualPipeV: build_dualpipev(s, ranks, micro_batches); break;
  }
  return s;
}

namespace {

std::string chunk_label(const char* kind, const Chunk& c) {
  return cat(kind, c.dir, '.', c.mb, "@s", c.stage);
}

}  // namespace

std::string op_label(const Op& op) {
  switch (op.kind) {
    case OpKind::kF: return chunk_label("F", op.a);
    case OpKind::kB: return chunk_label("B", op.a);
    case OpKind::kW: return chunk_label("W", op.a);
    case OpKind::kBW: return chunk_label("BW", op.a);
    case OpKind::kFB: return chunk_label("F", op.a) + "&" + chunk_label("BW", op.b);
    case OpKind::kComm: break;
  }
  std::string s = "comm[";
  for (size_t i = 0; i < op.comm.size(); ++i) {
    const Message& m = op.comm[i];
    s += cat(i ? " " : "", m.send ? "send " : "recv ", m.value == Value::kAct ? "act " : "grad ",
             chunk_label("", m.of), m.send ? " to " : " from ", m.peer);
  }
  return s + "]";
}

std::string schedule_text(const Schedule& s, bool with_comm) {
  std::ostringstream os;
  os << schedule_name(s.kind) << ": " << s.ranks << " ranks, " << s.stages << " stages, " << s.micro_batches
     << " micro-batches\n";
  for (int r = 0; r < s.ranks; ++r) {
    os << "rank " << r << ":";
    for (const Op& op : s.ops[size_t(r)])
      if (with_comm || op.kind != OpKind::kComm) os << ' ' << op_label(op);
    os << '\n';
  }
  return os.str();
}

}  // namespace dsv3::pipeline
