#include "pipeline/trace.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace dsv3::pipeline {

namespace {

const char* kind_name(OpKind k) {
  switch (k) {
    case OpKind::kF: return "F";
    case OpKind::kB: return "B";
    case OpKind::kW: return "W";
    case OpKind::kBW: return "BW";
    case OpKind::kFB: return "FB";
    case OpKind::kComm: return "comm";
  }
  return "?";
}

bool parse_kind(const std::string& s, OpKind& k) {
  for (OpKind c : {OpKind::kF, OpKind::kB, OpKind::kW, OpKind::kBW, OpKind::kFB})
    if (s == kind_name(c)) return k = c, true;
  return false;
}

}  // namespace

std::string trace_json(const Schedule& s, const Timeline& t) {
  json events = json::array();
  for (int r = 0; r < s.ranks; ++r) {
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", r}, {"args", {{"name", cat("rank ", r)}}}});
    for (const Span& sp : t.spans[size_t(r)]) {
      const Op& op = s.ops[size_t(r)][size_t(sp.op)];
      json e = {{"name", op_label(op)}, {"cat", kind_name(op.kind)}, {"ph", "X"}, {"ts", sp.start * 1e6},
                {"dur", (sp.end - sp.start) * 1e6}, {"pid", r}, {"tid", op.kind == OpKind::kComm ? 1 : 0}};
      if (op.kind != OpKind::kComm) {
        e["args"] = {{"kind", kind_name(op.kind)}, {"dir", op.a.dir}, {"mb", op.a.mb}, {"stage", op.a.stage}};
        if (op.kind == OpKind::kFB) e["args"].update({{"b_dir", op.b.dir}, {"b_mb", op.b.mb}, {"b_stage", op.b.stage}});
      }
      events.push_back(std::move(e));
    }
  }
  return json{{"traceEvents", events}, {"displayTimeUnit", "ms"},
              {"otherData", {{"schedule", schedule_name(s.kind)}, {"micro_batches", s.micro_batches}, {"forward_only", s.forward_only}}}}
      .dump(1);
}

double Trace::busy(int rank) const {
  double b = 0;
  for (const TraceOp& op : ops)
    if (op.rank == rank) b += op.end - op.start;
  return b;
}

Trace read_trace(const json& j, const std::string& what) {
  const json* events = &j;
  Trace t;
  if (j.is_object()) {
    if (!j.contains("traceEvents")) fail(what, ": no \"traceEvents\" array");
    events = &j["traceEvents"];
    if (j.contains("otherData") && j["otherData"].is_object()) {
      const json& o = j["otherData"];
      if (o.contains("schedule") && o["schedule"].is_string()) t.schedule = o["schedule"].get<std::string>();
      if (o.contains("micro_batches") && o["micro_batches"].is_number_integer()) t.micro_batches = o["micro_batches"].get<int>();
      if (o.contains("forward_only") && o["forward_only"].is_boolean()) t.forward_only = o["forward_only"].get<bool>();
    }
  }
  if (!events->is_array()) fail(what, ": trace events are not an array");
  t.start = std::numeric_limits<double>::infinity();
  t.end = -t.start;
  for (const json& e : *events) {
    if (!e.is_object() || e.value("ph", "") != "X" || !e.contains("args") || !e["args"].is_object()) continue;
    const json& a = e["args"];
    TraceOp op;
    if (!a.contains("kind") || !a["kind"].is_string() || !parse_kind(a["kind"].get<std::string>(), op.kind)) continue;
    try {
      op.rank = e.at("pid").get<int>();
      op.start = e.at("ts").get<double>();
      op.end = op.start + e.at("dur").get<double>();
      op.a = {a.at("dir").get<int>(), a.at("mb").get<int>(), a.at("stage").get<int>()};
      if (op.kind == OpKind::kFB) op.b = {a.at("b_dir").get<int>(), a.at("b_mb").get<int>(), a.at("b_stage").get<int>()};
    } catch (const json::exception&) {
      fail(what, ": event '", e.value("name", "?"), "' lacks pid, ts, dur, dir, mb or stage");
    }
    if (op.rank < 0 || op.rank > 1 << 16 || !(op.end >= op.start)) fail(what, ": event '", e.value("name", "?"), "' has a bad rank or time");
    t.ranks = std::max(t.ranks, op.rank + 1);
    t.start = std::min(t.start, op.start);
    t.end = std::max(t.end, op.end);
    t.ops.push_back(op);
  }
  if (t.ops.empty()) fail(what, ": no pipeline operations (events with args.kind F, B, W, BW or FB)");
  return t;
}

Trace read_trace_files(const std::vector<std::string>& paths) {
  Trace all;
  for (const std::string& p : paths) {
    Trace t = read_trace(read_json_file(p), p);
    if (all.ops.empty()) {
      all = std::move(t);
      continue;
    }
    if (all.schedule.empty()) all.schedule = t.schedule, all.micro_batches = t.micro_batches, all.forward_only = t.forward_only;
    all.ranks = std::max(all.ranks, t.ranks);
    all.start = std::min(all.start, t.start);
    all.end = std::max(all.end, t.end);
    all.ops.insert(all.ops.end(), t.ops.begin(), t.ops.end());
  }
  return all;
}

}  // namespace dsv3::pipeline
