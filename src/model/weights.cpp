#include "model/weights.h"

#include <cstring>
#include <set>

#include "core/error.h"
#include "io/checkpoint.h"
#include "model/quant_bind.h"

namespace dsv3 {

std::string layer_prefix(int64_t i) { return cat("model.layers.", i, "."); }

namespace {

class Binder {
 public:
  Binder(const Checkpoint& ck, const ModelConfig& cfg, BoundWeights& out) : ck_(ck), cfg_(cfg), out_(out) {}

  // A matrix [rows, cols] in F32/BF16/F16, or F8_E4M3 with its weight_scale_inv.
  Weight matrix(const std::string& name, int64_t rows, int64_t cols) {
    const std::string stem = name.substr(0, name.size() - 7);  // without ".weight"
    if (!has(name) && has(stem + ".qweight")) return gptq(stem, rows, cols);
    const TensorInfo& t = tensor(name);
    check_shape(t, {rows, cols});
    Weight w;
    w.dtype = t.dtype;
    w.rows = rows;
    w.cols = cols;
    w.data = aligned(t);
    if (t.dtype == DType::F8_E4M3 || t.dtype == DType::I8) {  // I8: blockwise_int8, the same layout
      const int64_t b = cfg_.weight_block_size;
      const TensorInfo& s = tensor(name + "_scale_inv");
      check_shape(s, {(rows + b - 1) / b, (cols + b - 1) / b});
      w.scale_inv = floats(s);
      w.scale_cols = (cols + b - 1) / b;
      w.block = int(b);
      if (t.dtype == DType::I8 && b % 32 != 0) fail(t.file, ": tensor '", name, "': INT8 block size ", b, " is not a multiple of 32");
    } else if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16) {
      fail(t.file, ": tensor '", name, "' has dtype ", dtype_name(t.dtype),
           "; expected BF16, F16, F32, F8_E4M3 or I8");
    }
    return w;
  }

  // A GPTQ or AWQ matrix, repacked for the INT4 kernels.
  Weight gptq(const std::string& stem, int64_t rows, int64_t cols) {
    if (cfg_.quant.method == "awq") {
      out_.int4.push_back(bind_awq(tensor(stem + ".qweight"), tensor(stem + ".qzeros"), tensor(stem + ".scales"), rows,
                                   cols, cfg_.quant));
      return int4_weight(rows, cols);
    }
    if (cfg_.quant.method != "gptq") fail(ck_.dir(), ": tensor '", stem, ".qweight' needs quant_method gptq or awq in config.json");
    const TensorInfo* g_idx = has(stem + ".g_idx") ? &tensor(stem + ".g_idx") : nullptr;
    out_.int4.push_back(bind_gptq(tensor(stem + ".qweight"), tensor(stem + ".qzeros"), tensor(stem + ".scales"), g_idx,
                                  rows, cols, cfg_.quant));
    return int4_weight(rows, cols);
  }

  Weight int4_weight(int64_t rows, int64_t cols) {
    Weight w;
    w.dtype = DType::U8;
    w.rows = rows;
    w.cols = cols;
    w.data = out_.int4.back().packed.data();
    w.int4 = &out_.int4.back();
    return w;
  }

  Vec vector(const std::string& name, int64_t size) {
    const TensorInfo& t = tensor(name);
    check_shape(t, {size});
    return {floats(t), size};
  }

  bool has(const std::string& name) const { return ck_.find(name) != nullptr; }

  void finish() {
    for (const auto& n : ck_.names())
      if (!used_.count(n)) out_.unused.push_back(n);
  }

 private:
  const TensorInfo& tensor(const std::string& name) {
    const TensorInfo* t = ck_.find(name);
    if (!t) fail(ck_.dir(), ": missing tensor '", name, "'");
    used_.insert(name);
    return *t;
  }

  void check_shape(const TensorInfo& t, const std::vector<int64_t>& want) {
    if (t.shape != want) {
      TensorInfo w;
      w.shape = want;
      fail(t.file, ": tensor '", t.name, "' has shape ", t.shape_str(), ", expected ", w.shape_str());
    }
  }

  // Safetensors offsets need not be multiples of the element size; the kernels need aligned
  // elements, so the rare misaligned tensor is copied once.
  const void* aligned(const TensorInfo& t) {
    if (reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype) == 0) return t.data;
    out_.storage.emplace_back((t.nbytes + 3) / 4);
    std::memcpy(out_.storage.back().data(), t.data, t.nbytes);
    return out_.storage.back().data();
  }

  // Float vectors are small: widen them once into owned storage (F32 is used in place).
  const float* floats(const TensorInfo& t) {
    if (t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0)
      return reinterpret_cast<const float*>(t.data);
    if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16 && t.dtype != DType::F64)
      fail(t.file, ": tensor '", t.name, "' has dtype ", dtype_name(t.dtype), "; expected a float type");
    out_.storage.push_back(tensor_to_f32(t));
    return out_.storage.back().data();
  }

  const Checkpoint& ck_;
  const ModelConfig& cfg_;
  BoundWeights& out_;
  std::set<std::string> used_;
};

MlaWeights bind_mla(Binder& b, const ModelConfig& c, const std::string& p) {
  const int64_t H = c.num_attention_heads, qk = c.qk_head_dim();
  MlaWeights m;
  if (c.q_lora_rank > 0) {
    m.q_a_proj = b.matrix(p + "q_a_proj.weight", c.q_lora_rank, c.hidden_size);
    m.q_a_layernorm = b.vector(p + "q_a_layernorm.weight", c.q_lora_rank);
    m.q_b_proj = b.matrix(p + "q_b_proj.weight", H * qk, c.q_lora_rank);
  } else {
    m.q_proj = b.matrix(p + "q_proj.weight", H * qk, c.hidden_size);
  }
  m.kv_a_proj_with_mqa = b.matrix(p + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size);
  m.kv_a_layernorm = b.vector(p + "kv_a_layernorm.weight", c.kv_lora_rank);
  m.kv_b_proj = b.matrix(p + "kv_b_proj.weight", H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
  m.o_proj = b.matrix(p + "o_proj.weight", c.hidden_size, H * c.v_head_dim);
  return m;
}

MlpWeights bind_mlp(Binder& b, const std::string& p, int64_t hidden, int64_t inter) {
  return {b.matrix(p + "gate_proj.weight", inter, hidden), b.matrix(p + "up_proj.weight", inter, hidden),
          b.matrix(p + "down_proj.weight", hidden, inter)};
}

LayerWeights bind_layer(Binder& b, const ModelConfig& c, int64_t i) {
  const std::string p = layer_prefix(i);
  LayerWeights l;
  l.input_layernorm = b.vector(p + "input_layernorm.weight", c.hidden_size);
  l.post_attention_layernorm = b.vector(p + "post_attention_layernorm.weight", c.hidden_size);
  l.self_attn = bind_mla(b, c, p + "self_attn.");
  l.is_moe = c.is_moe_layer(i);
  if (!l.is_moe) {
    l.mlp = bind_mlp(b, p + "mlp.", c.hidden_size, c.intermediate_size);
    return l;
  }
  MoeWeights& m = l.moe;
  m.gate = b.matrix(p + "mlp.gate.weight", c.n_routed_experts, c.hidden_size);
  const std::string bias = p + "mlp.gate.e_score_correction_bias";
  if (c.topk_method == "noaux_tc" || b.has(bias)) m.e_score_correction_bias = b.vector(bias, c.n_routed_experts);
  for (int64_t e = 0; e < c.n_routed_experts; ++e)
    m.experts.push_back(bind_mlp(b, cat(p, "mlp.experts.", e, "."), c.hidden_size, c.moe_intermediate_size));
  if (c.n_shared_experts > 0)
    m.shared_experts = bind_mlp(b, p + "mlp.shared_experts.", c.hidden_size, c.n_shared_experts * c.moe_intermediate_size);
  return l;
}

MtpWeights bind_mtp(Binder& b, const ModelConfig& c, int64_t i) {
  const std::string p = layer_prefix(i);
  MtpWeights m;
  m.enorm = b.vector(p + "enorm.weight", c.hidden_size);
  m.hnorm = b.vector(p + "hnorm.weight", c.hidden_size);
  m.eh_proj = b.matrix(p + "eh_proj.weight", c.hidden_size, 2 * c.hidden_size);
  m.block = bind_layer(b, c, i);
  m.shared_head_norm = b.vector(p + "shared_head.norm.weight", c.hidden_size);
  // The released checkpoints carry copies of the embedding and head under the MTP prefix; the
  // module shares the main model's, so the copies are only checked for shape when present.
  if (b.has(p + "embed_tokens.weight")) b.matrix(p + "embed_tokens.weight", c.vocab_size, c.hidden_size);
  if (b.has(p + "shared_head.head.weight")) b.matrix(p + "shared_head.head.weight", c.vocab_size, c.hidden_size);
  return m;
}

}  // namespace

BoundWeights bind_weights(const Checkpoint& ckpt, const ModelConfig& cfg) {
  BoundWeights out;
  Binder b(ckpt, cfg, out);
  ModelWeights& w = out.weights;
  w.embed_tokens = b.matrix("model.embed_tokens.weight", cfg.vocab_size, cfg.hidden_size);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) w.layers.push_back(bind_layer(b, cfg, i));
  w.norm = b.vector("model.norm.weight", cfg.hidden_size);
  w.lm_head = cfg.tie_word_embeddings && !b.has("lm_head.weight")
                  ? w.embed_tokens
                  : b.matrix("lm_head.weight", cfg.vocab_size, cfg.hidden_size);
  for (int64_t k = 0; k < cfg.num_nextn_predict_layers; ++k)
    w.mtp.push_back(bind_mtp(b, cfg, cfg.num_hidden_layers + k));
  b.finish();
  return out;
}

}  // namespace dsv3
