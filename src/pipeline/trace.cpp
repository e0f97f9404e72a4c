#include "io/json_file.h"
#include "pipeline/trace.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

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

// Written event by event (not through a json tree): a large schedule has millions of them.
std::string trace_json(const Schedule& s, const Timeline& t) {
  std::string out = cat("{\"displayTimeUnit\": \"ms\", \"otherData\": {\"schedule\": \"", schedule_name(s.kind),
                        "\", \"micro_batches\": ", s.micro_batches, ", \"forward_only\": ", s.forward_only ? "true" : "false",
                        "},\n\"traceEvents\": [");
  char buf[160];
  for (int r = 0; r < s.ranks; ++r) {
    out += cat(r ? ",\n" : "\n", "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": ", r,
               ", \"args\": {\"name\": \"rank ", r, "\"}}");
    for (const Span& sp : t.spans[size_t(r)]) {
      const Op& op = s.ops[size_t(r)][size_t(sp.op)];
      std::snprintf(buf, sizeof buf, "\"ph\": \"X\", \"ts\": %.17g, \"dur\": %.17g, \"pid\": %d, \"tid\": %d", sp.start * 1e6,
                    (sp.end - sp.start) * 1e6, r, op.kind == OpKind::kComm ? 1 : 0);
      out += cat(",\n{\"name\": ", json(op_label(op)).dump(), ", \"cat\": \"", kind_name(op.kind), "\", ", buf);
      if (op.kind != OpKind::kComm) {
        out += cat(", \"args\": {\"kind\": \"", kind_name(op.kind), "\", \"dir\": ", op.a.dir, ", \"mb\": ", op.a.mb,
                   ", \"stage\": ", op.a.stage);
        if (op.kind == OpKind::kFB) out += cat(", \"b_dir\": ", op.b.dir, ", \"b_mb\": ", op.b.mb, ", \"b_stage\": ", op.b.stage);
        out += "}";
      }
      out += "}";
    }
  }
  return out + "\n]}\n";
}

void Trace::add(const TraceOp& op) {
  if (ops.empty()) start = op.start, end = op.end;
  ranks = std::max(ranks, op.rank + 1);
  start = std::min(start, op.start);
  end = std::max(end, op.end);
  if (busy_.size() < size_t(ranks)) busy_.resize(size_t(ranks), 0);
  busy_[size_t(op.rank)] += op.end - op.start;
  ops.push_back(op);
}

Trace make_trace(const Schedule& s, const Timeline& t) {
  Trace tr;
  tr.schedule = schedule_name(s.kind);
  tr.micro_batches = s.micro_batches;
  tr.forward_only = s.forward_only;
  for (int r = 0; r < s.ranks; ++r)
    for (const Span& sp : t.spans[size_t(r)]) {
      const Op& op = s.ops[size_t(r)][size_t(sp.op)];
      if (op.kind != OpKind::kComm) tr.add({r, op.kind, op.a, op.b, sp.start * 1e6, sp.end * 1e6});
    }
  return tr;
}

namespace {

// A non-negative integer field no larger than `max` (a float or a huge value is malformed).
int small_int(const json& v, int max) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > max) throw std::out_of_range("field");
  return int(v.get<int64_t>());
}

double finite(const json& v) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) throw std::out_of_range("field");
  return v.get<double>();
}

}  // namespace

Trace read_trace(const json& j, const std::string& what) {
  const json* events = &j;
  Trace t;
  if (j.is_object()) {
    if (!j.contains("traceEvents")) fail(what, ": no \"traceEvents\" array");
    events = &j["traceEvents"];
    if (j.contains("otherData") && j["otherData"].is_object()) {
      const json& o = j["otherData"];
      if (o.contains("schedule") && o["schedule"].is_string()) t.schedule = o["schedule"].get<std::string>();
      if (o.contains("micro_batches") && o["micro_batches"].is_number_unsigned() && o["micro_batches"].get<uint64_t>() <= (1u << 20))
        t.micro_batches = int(o["micro_batches"].get<uint64_t>());
      if (o.contains("forward_only") && o["forward_only"].is_boolean()) t.forward_only = o["forward_only"].get<bool>();
    }
  }
  if (!events->is_array()) fail(what, ": trace events are not an array");
  for (const json& e : *events) {
    // json::value() throws when "ph" is there but not a string: check the type first.
    const bool complete = e.is_object() && e.contains("ph") && e["ph"].is_string() && e["ph"].get<std::string>() == "X";
    if (!complete || !e.contains("args") || !e["args"].is_object()) continue;
    const json& a = e["args"];
    TraceOp op;
    if (!a.contains("kind") || !a["kind"].is_string() || !parse_kind(a["kind"].get<std::string>(), op.kind)) continue;
    const std::string name = e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : "?";
    try {
      op.rank = small_int(e.at("pid"), 1 << 16);
      op.start = finite(e.at("ts"));
      op.end = op.start + finite(e.at("dur"));
      op.a = {small_int(a.at("dir"), 1), small_int(a.at("mb"), 1 << 20), small_int(a.at("stage"), 1 << 16)};
      if (op.kind == OpKind::kFB) op.b = {small_int(a.at("b_dir"), 1), small_int(a.at("b_mb"), 1 << 20), small_int(a.at("b_stage"), 1 << 16)};
    } catch (const std::exception&) {
      fail(what, ": event '", name, "' lacks pid, ts, dur, dir, mb or stage, or has one out of range");
    }
    if (!std::isfinite(op.end) || op.end < op.start) fail(what, ": event '", name, "' has a bad time");
    t.add(op);
  }
  if (t.ops.empty()) fail(what, ": no pipeline operations (events with args.kind F, B, W, BW or FB)");
  return t;
}

Trace read_trace_files(const std::vector<std::string>& paths) {
  Trace all;
  for (const std::string& p : paths) {
    Trace t = read_trace(read_json_file(p), p);
    if (all.schedule.empty()) all.schedule = t.schedule, all.micro_batches = t.micro_batches, all.forward_only = t.forward_only;
    for (const TraceOp& op : t.ops) all.add(op);
  }
  return all;
}

}  // namespace dsv3::pipeline
