#include "model/param_count.h"

#include <string>
#include <unordered_map>

#include "kernels/quant_weight.h"
#include "model/tensor_table.h"

namespace dsv3 {

namespace {

constexpr size_t kLayersPrefix = 13;  // strlen("model.layers.")

// The layer index of a "model.layers.<i>." tensor name, or -1 for a tensor outside the layers.
int64_t layer_of(const std::string& name) {
  return name.rfind("model.layers.", 0) == 0 ? std::stoll(name.substr(kLayersPrefix)) : -1;
}

// The routed expert index of a "...mlp.experts.<e>." name, or -1.
int64_t expert_of(const std::string& name) {
  const size_t at = name.find(".mlp.experts.");
  return at == std::string::npos ? -1 : std::stoll(name.substr(at + 13));
}

// Bytes a stored matrix occupies: codes, plus FP8/INT8 block scales or INT4 group scales.
int64_t stored_bytes(const Weight& w) {
  int64_t bytes = int64_t(w.bytes());
  if (w.scale_inv) bytes += ((w.rows + w.block_rows - 1) / w.block_rows) * w.scale_cols * 4;
  if (w.int4) bytes += w.rows * w.int4->groups() * 4;  // F16 (d, m) per group
  if (w.int8 && w.int8->tiled && !w.int8->block) bytes += w.rows * w.int8->units() * 2;  // Q8_0 tiles: F16 scales
  return bytes;
}

// How many of a tensor's rows (a vector: 0 or 1 of its one "row") one token of the main model
// reads: one embedding row (plus all of them when the embedding is also the head), nothing of
// the MTP modules or their copies, the first top_k routed experts of each MoE layer (all
// experts have one size, so any top_k of them count the same), everything else whole.
int64_t rows_read(const ModelConfig& c, const TensorSpec& t) {
  const int64_t rows = t.shape.size() == 2 ? t.shape[0] : 1;
  if (t.role == TensorRole::kMtpCopy || layer_of(t.name) >= c.num_hidden_layers) return 0;
  if (t.name == "model.embed_tokens.weight") return c.tie_word_embeddings ? 1 + rows : 1;
  if (expert_of(t.name) >= c.num_experts_per_tok) return 0;
  return rows;
}

}  // namespace

ParamCount count_params(const Model& m) {
  const ModelConfig& c = m.config();
  const TensorTable table(c);
  // The stored bytes of each bound tensor (they depend on the checkpoint's formats).
  std::unordered_map<std::string, int64_t> bytes;
  for_each_tensor(c, m.weights(),
                  {[&](const std::string& n, const Weight& w, TensorRole) { bytes[n] = stored_bytes(w); },
                   [&](const std::string& n, const Vec& v, TensorRole) { bytes[n] = v.size * 4; }});
  ParamCount pc;
  for (const TensorSpec& t : table.tensors()) {
    if (t.role == TensorRole::kMtpCopy) continue;  // the shared embedding and head, counted once
    pc.total += t.size();
    if (layer_of(t.name) >= c.num_hidden_layers) pc.mtp += t.size();
    const int64_t read = rows_read(c, t), rows = t.shape.size() == 2 ? t.shape[0] : 1;
    if (read == 0) continue;
    pc.active += t.size() / rows * read;
    pc.active_bytes += bytes.at(t.name) * read / rows;
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) (c.is_moe_layer(i) ? pc.moe_layers : pc.dense_layers)++;
  // Decode reads a GGUF file's own attn_k_b / attn_v_b (MlaWeights::w_uk, w_uv) instead of
  // kv_b_proj's key rows / value rows.
  const int64_t dn = c.qk_nope_head_dim, dv = c.v_head_dim;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const MlaWeights& a = m.weights().layers[size_t(i)].self_attn;
    const int64_t kv_b = stored_bytes(a.kv_b_proj);
    if (!a.w_uk.empty()) pc.active_bytes += stored_bytes(a.w_uk) - kv_b * dn / (dn + dv);
    if (!a.w_uv.empty()) pc.active_bytes += stored_bytes(a.w_uv) - kv_b * dv / (dn + dv);
  }
  return pc;
}

}  // namespace dsv3
