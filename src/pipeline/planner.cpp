#include "pipeline/planner.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "pipeline/layer_cost.h"
#include "pipeline/simulate.h"
#include "pipeline/stages.h"

namespace dsv3::pipeline {

namespace {

// Bytes a chunk's backward needs per token per layer: the layer input (BF16), the MLA latents
// (the up-projections and RMSNorm are recomputed, as in the report §3.2.3), the attention output
// and its log-sum-exp, and for the MLP every expert copy's input in FP8 (the report caches Linear
// inputs in FP8) with its SwiGLU input in BF16. An estimate, printed as such.
double activation_bytes_per_token(const ModelConfig& c, const LayerCost& l) {
  const double h = double(c.hidden_size), nh = double(c.num_attention_heads);
  double attn = 2 * h + 2.0 * double(c.q_lora_rank) + 2.0 * double(c.kv_lora_rank + c.qk_rope_head_dim) +
                2 * nh * double(c.v_head_dim) + 4 * nh;
  if (!l.moe) return attn + 2 * h + h + 4.0 * double(c.intermediate_size);
  const double copies = double(c.num_experts_per_tok + c.n_shared_experts);
  return attn + 2 * h + 4.0 * double(c.n_routed_experts) + copies * (h + 4.0 * double(c.moe_intermediate_size));
}

// Inter-node bytes of one token's all-to-all in one MoE layer, forward: dispatch in FP8 (with
// one FP32 scale per 128 values) and combine in BF16, to each remote node it is routed to. Node-
// limited routing sends a token to at most topk_group nodes, each once (the NVLink forward to
// the experts on that node happens inside it); one of them is on average the token's own node.
double a2a_ib_bytes_per_token(const ModelConfig& c, int ep, int per_node) {
  const int ep_nodes = std::max(1, (ep + per_node - 1) / per_node);
  if (ep_nodes == 1) return 0;
  const double nodes = double(std::min<int64_t>(c.topk_group, ep_nodes));
  const double remote = nodes * (1.0 - 1.0 / ep_nodes);
  const double h = double(c.hidden_size);
  return remote * (h + h / 128 * 4 + 2 * h);
}

double a2a_nvlink_bytes_per_token(const ModelConfig& c) {
  const double h = double(c.hidden_size);
  return double(c.num_experts_per_tok) * (h + h / 128 * 4 + 2 * h);
}

int moe_layers_in(const ModelCost& m, int first, int count, bool last) {
  int n = last && m.mtp.moe ? 1 : 0;
  for (int i = first; i < first + count; ++i) n += m.layers[size_t(i)].moe;
  return n;
}

double table2_bubble(ScheduleKind k, int stages, double f, double b, double w, double fb) {
  switch (k) {
    case ScheduleKind::k1F1B: return (stages - 1) * (f + b);
    case ScheduleKind::kZB1P: return (stages - 1) * (f + b - 2 * w);
    default: return (stages / 2 - 1) * (fb + b - 3 * w);
  }
}

void fill_sizes(const ModelConfig& c, const Cluster& cl, Parallel& par) {
  if (par.pp < 1 || par.ep < 1) fail("--pp and --ep must be >= 1");
  if (par.dp == 0) {
    if (cl.devices % par.pp != 0) fail(cl.devices, " devices do not split into ", par.pp, " pipeline stages");
    par.dp = cl.devices / par.pp;
  }
  if (par.pp * par.dp != cl.devices) fail("--pp ", par.pp, " x --dp ", par.dp, " != ", cl.devices, " devices");
  if (par.dp % par.ep != 0) fail("--ep ", par.ep, " must divide the ", par.dp, " data-parallel ranks of a stage");
  if (c.n_routed_experts > 0 && c.n_routed_experts % par.ep != 0)
    fail("--ep ", par.ep, " does not divide the ", c.n_routed_experts, " routed experts");
  if (par.micro_batch_seqs < 1 || par.seq_len < 1) fail("--micro-batch-seqs and --seq-len must be >= 1");
  const int64_t per_step = par.dp * par.micro_batch_seqs;
  if (par.micro_batches == 0 && par.global_batch > 0) {
    if (par.global_batch % per_step != 0)
      fail("--global-batch ", par.global_batch, " is not a multiple of dp x micro-batch-seqs = ", per_step);
    par.micro_batches = int(par.global_batch / per_step);
  }
  if (par.micro_batches == 0) par.micro_batches = 4 * par.pp;
  par.global_batch = par.micro_batches * per_step;
}

}  // namespace

namespace {

// Per stage, seconds per micro-batch: forward compute, and forward all-to-all over InfiniBand.
// The head and MTP make the last stage compute-heavy; MoE layers make the others
// communication-heavy.
struct StageCosts {
  std::vector<double> compute, a2a;
};

StageCosts stage_costs(const ModelCost& mc, const std::vector<int>& stage_layers, double tokens, double flops_per_s,
                       double a2a_bytes_per_token, double ib_bytes_per_s) {
  StageCosts sc;
  const std::vector<double> sf = stage_flops(mc, stage_layers);
  const int stages = int(stage_layers.size());
  for (int st = 0, first = 0; st < stages; first += stage_layers[size_t(st)], ++st) {
    sc.compute.push_back(sf[size_t(st)] * tokens / flops_per_s);
    const int moe = moe_layers_in(mc, first, stage_layers[size_t(st)], st == stages - 1);
    sc.a2a.push_back(moe * tokens * a2a_bytes_per_token / ib_bytes_per_s);
  }
  return sc;
}

// The backward's input and weight gradients each cost about a forward; its all-to-all moves the
// same bytes back. Unpaired chunks wait for their own all-to-all; in an overlapped pair each
// chunk's communication runs under the other's computation.
OpCost simulation_costs(const StageCosts& sc) {
  return [sc](const Op& op) {
    const double fc = sc.compute[size_t(op.a.stage)], fa = sc.a2a[size_t(op.a.stage)];
    switch (op.kind) {
      case OpKind::kF: return fc + fa;
      case OpKind::kB: return fc + fa;
      case OpKind::kW: return fc;
      case OpKind::kBW: return 2 * fc + fa;
      case OpKind::kFB: return std::max(fc, sc.a2a[size_t(op.b.stage)]) + std::max(2 * sc.compute[size_t(op.b.stage)], fa);
      case OpKind::kComm: break;
    }
    return 0.0;
  };
}

// Memory of the rank that needs the most: the stages it holds, its peak activations.
DeviceMemory worst_rank_memory(const ModelConfig& c, const ModelCost& mc, const Schedule& s,
                               const std::vector<int>& stage_layers, const Parallel& par, double tokens) {
  std::vector<int> first(stage_layers.size() + 1, 0);
  for (size_t i = 0; i < stage_layers.size(); ++i) first[i + 1] = first[i] + stage_layers[i];
  const std::vector<int> peak = peak_activations(s);
  DeviceMemory worst;
  for (int r = 0; r < s.ranks; ++r) {
    double dense = 0, expert = 0, act = 0;
    for (int st = 0; st < s.stages; ++st) {
      bool held = false;
      for (int d = 0; d < s.dirs; ++d) held = held || s.rank_of(d, st) == r;
      if (!held) continue;
      double stage_act = 0;
      for (int i = first[size_t(st)]; i < first[size_t(st) + 1]; ++i) {
        const LayerCost& l = mc.layers[size_t(i)];
        dense += double(l.params - l.expert_params);
        expert += double(l.expert_params) / par.ep;
        stage_act += activation_bytes_per_token(c, l) * tokens;
      }
      if (st == 0) dense += double(mc.embedding.params);
      if (st == s.stages - 1) {
        dense += double(mc.head.params + mc.mtp.params - mc.mtp.expert_params);
        expert += double(mc.mtp.expert_params) / par.ep;
      }
      act = std::max(act, stage_act);
    }
    DeviceMemory m;
    m.params = 2 * (dense + expert);  // BF16 weights
    m.grads = 4 * (dense + expert);   // FP32 gradient accumulation
    // ZeRO-1: FP32 master weights and BF16 AdamW moments, sharded over each parameter's replicas.
    m.optimizer = 8 * (dense / par.dp + expert / (double(par.dp) / par.ep));
    m.activations = act * peak[size_t(r)];
    if (m.total() > worst.total()) worst = m;
  }
  return worst;
}

}  // namespace

Plan make_plan(const ModelConfig& c, const Cluster& cl, Parallel par) {
  fill_sizes(c, cl, par);
  Plan p;
  p.cluster = cl;
  p.par = par;
  const ModelCost mc = model_cost(c, par.seq_len);
  p.total_params = mc.total_params();
  p.mtp_params = mc.mtp.params;
  double fwd = mc.head.flops_per_token + mc.mtp.flops_per_token;
  for (const LayerCost& l : mc.layers) fwd += l.flops_per_token;
  p.train_flops_per_token = 3 * fwd;  // backward: input gradients and weight gradients, each ~ forward
  p.a2a_ib_bytes_per_token = a2a_ib_bytes_per_token(c, par.ep, cl.devices_per_node);
  p.a2a_nvlink_bytes_per_token = a2a_nvlink_bytes_per_token(c);

  const double tokens = double(par.micro_batch_seqs * par.seq_len);
  std::vector<ScheduleKind> kinds = {par.schedule};
  for (ScheduleKind k : {ScheduleKind::k1F1B, ScheduleKind::kZB1P, ScheduleKind::kDualPipe, ScheduleKind::kDualPipeV})
    if (k != par.schedule) kinds.push_back(k);
  for (ScheduleKind k : kinds) {
    SchedulePlan sp;
    sp.kind = k;
    try {
      const Schedule s = make_schedule(k, par.pp, par.micro_batches);
      sp.stage_layers = k == par.schedule && !par.stage_layers.empty()
                            ? parse_stage_layers(par.stage_layers, s.stages, int(c.num_hidden_layers))
                            : balanced_stage_layers(mc, s.stages);
      const StageCosts sc = stage_costs(mc, sp.stage_layers, tokens, cl.peak_tflops * 1e12 * cl.efficiency,
                                        p.a2a_ib_bytes_per_token, cl.ib_gbs * 1e9);
      const double p2p = tokens * double(c.hidden_size) * 2 / (cl.ib_gbs * 1e9);  // BF16 activations
      const Timeline t = simulate(s, simulation_costs(sc), p2p);
      // The table's per-chunk columns (and Table 2's formula) use the slowest stage's compute
      // and the heaviest all-to-all.
      const double cmax = *std::max_element(sc.compute.begin(), sc.compute.end());
      const double amax = *std::max_element(sc.a2a.begin(), sc.a2a.end());
      sp.f = cmax + amax;
      sp.b = 2 * cmax + amax;
      sp.w = cmax;
      sp.fb = std::max(cmax, amax) + std::max(2 * cmax, amax);
      // The busiest rank's idle time: the pipeline bubble proper (lighter ranks also wait for
      // the imbalance between stages).
      sp.bubble = t.makespan;
      for (int r = 0; r < s.ranks; ++r) sp.bubble = std::min(sp.bubble, t.bubble(r));
      sp.bubble_formula = table2_bubble(k, s.stages, sp.f, sp.b, sp.w, sp.fb);
      sp.step_seconds = t.makespan;
      sp.tokens_per_second = double(par.dp) * par.micro_batches * tokens / t.makespan;
      sp.gpu_hours_per_trillion = cl.devices * 1e12 / sp.tokens_per_second / 3600;
      for (int a : peak_activations(s)) sp.peak_chunks = std::max(sp.peak_chunks, a);
      if (k == par.schedule) {
        p.chunk_compute_seconds = cmax;
        p.chunk_a2a_seconds = amax;
        p.placement = placement_text(s, sp.stage_layers);
        p.memory = worst_rank_memory(c, mc, s, sp.stage_layers, par, tokens);
      }
    } catch (const Error& e) {
      if (k == par.schedule) throw;
      sp.error = e.what();
    }
    p.schedules.push_back(sp);
  }
  return p;
}

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// 3 significant units: "82.6 GB", "310.4 MB"; "671.0 B", "8.3 M".
std::string scaled(double v, const char* big, const char* mid, const char* small) {
  if (v >= 1e9) return fmt("%.1f ", v / 1e9) + big;
  if (v >= 1e6) return fmt("%.1f ", v / 1e6) + mid;
  return fmt("%.1f ", v / 1e3) + small;
}
std::string gb(double bytes) { return scaled(bytes, "GB", "MB", "KB"); }

}  // namespace

std::string plan_text(const Plan& p) {
  const Cluster& cl = p.cluster;
  const Parallel& par = p.par;
  std::string s;
  s += cat("cluster: ", cl.devices, " devices (", cl.devices_per_node, " per node), ", cl.peak_tflops, " TFLOP/s peak x ",
           cl.efficiency, " efficiency, ", cl.memory_gb, " GB, NVLink ", cl.nvlink_gbs, " GB/s, IB ", cl.ib_gbs, " GB/s\n");
  s += cat("parallel: PP ", par.pp, ", DP ", par.dp, ", EP ", par.ep, "; ", par.micro_batches, " micro-batches of ",
           par.micro_batch_seqs, " x ", par.seq_len, " tokens per replica; ", par.global_batch, " sequences per step\n");
  s += cat("model: ", scaled(double(p.total_params - p.mtp_params), "B", "M", "K"), " parameters + ",
           scaled(double(p.mtp_params), "B", "M", "K"), " in MTP modules; training ",
           scaled(p.train_flops_per_token, "GFLOP", "MFLOP", "KFLOP"), " per token (3 x forward)\n\n");
  s += cat("schedule ", schedule_name(par.schedule), ", stage placement:\n", p.placement);
  const DeviceMemory& m = p.memory;
  s += cat("\nmemory per device (worst rank): parameters ", gb(m.params), ", gradients ", gb(m.grads), ", optimizer ",
           gb(m.optimizer), ", activations ", gb(m.activations), " (estimate); total ", gb(m.total()), " of ",
           cl.memory_gb, " GB\n");
  s += cat("all-to-all per token per MoE layer (forward): ", fmt("%.1f", p.a2a_ib_bytes_per_token / 1e3),
           " KB over IB, ", fmt("%.1f", p.a2a_nvlink_bytes_per_token / 1e3), " KB over NVLink\n");
  s += cat("chunk (slowest stage): forward compute ", fmt("%.2f", p.chunk_compute_seconds * 1e3), " ms; all-to-all (most MoE layers) ",
           fmt("%.2f", p.chunk_a2a_seconds * 1e3), " ms (", fmt("%.2f", p.chunk_a2a_seconds / p.chunk_compute_seconds),
           " x compute)\n\n");
  s += "schedule    F ms   B ms   W ms  F&B ms  bubble ms (Table 2)  bubble %  act  step s   tokens/s   GPU-h per 1T tokens\n";
  for (const SchedulePlan& sp : p.schedules) {
    if (!sp.error.empty()) {
      s += cat(schedule_name(sp.kind), ": ", sp.error, "\n");
      continue;
    }
    char line[256];
    std::snprintf(line, sizeof line, "%-10s %6.2f %6.2f %6.2f %7.2f %9.1f (%7.1f) %9.1f %4d %7.2f %10.3g %12.0f\n",
                  schedule_name(sp.kind), sp.f * 1e3, sp.b * 1e3, sp.w * 1e3, sp.fb * 1e3, sp.bubble * 1e3,
                  sp.bubble_formula * 1e3, 100 * sp.bubble / sp.step_seconds, sp.peak_chunks, sp.step_seconds,
                  sp.tokens_per_second, sp.gpu_hours_per_trillion);
    s += line;
  }
  return s;
}

}  // namespace dsv3::pipeline
