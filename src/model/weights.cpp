#include "model/weights.h"

#include <cstring>
#include <set>

#include "core/error.h"
#include "io/checkpoint.h"
#include "model/quant_bind.h"
#include "model/tensor_table.h"

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
    if (!has(name) && has(stem + ".q4_0")) return q4_0(stem, rows, cols);
    if (!has(name) && has(stem + ".q8_0")) return q8_0(stem, rows, cols);
    for (const auto& [suffix, kind] : {std::pair{".q4_k", KQuant::Q4_K}, {".q5_k", KQuant::Q5_K}, {".q6_k", KQuant::Q6_K}})
      if (!has(name) && has(stem + suffix)) return kquant(stem + suffix, kind, rows, cols);
    const TensorInfo& t = tensor(name);
    check_shape(t, {rows, cols});
    if (t.dtype == DType::I8 && cfg_.quant.method == "compressed-tensors") return w8a8(name, t, rows, cols);
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
      w.block_rows = int(b);
      if (t.dtype == DType::I8 && b % 32 != 0) fail(t.file, ": tensor '", name, "': INT8 block size ", b, " is not a multiple of 32");
      // INT8 in 16-row tiles (but kv_b_proj, int8_tiles_pay), as GGUF Q8_0: decode then sums 16
      // rows per instruction instead of one row's dot product at a time (docs/quantization.md).
      if (t.dtype == DType::I8 && cols % 32 == 0 && int8_tiles_pay(name))
        return int8_rows_weight(out_.int8.emplace_back(int8_tiles_from_blocks(
            static_cast<const int8_t*>(w.data), w.scale_inv, rows, cols, b)));
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
    if (cfg_.quant.bits == 8) {
      Gptq8 g = bind_gptq8(tensor(stem + ".qweight"), tensor(stem + ".qzeros"), tensor(stem + ".scales"), g_idx, rows,
                           cols, cfg_.quant);
      if (g.rows) return int8_rows_weight(out_.int8.emplace_back(std::move(*g.rows)));
      out_.storage.push_back(std::move(g.f32));
      return f32_weight(out_.storage.back().data(), rows, cols);
    }
    out_.int4.push_back(bind_gptq(tensor(stem + ".qweight"), tensor(stem + ".qzeros"), tensor(stem + ".scales"), g_idx,
                                  rows, cols, cfg_.quant));
    return int4_weight(rows, cols);
  }

  // compressed-tensors W8A8, dequantized once to float32 (the INT8 kernels take 128x128 block
  // scales, not one per output channel).
  Weight w8a8(const std::string& name, const TensorInfo& t, int64_t rows, int64_t cols) {
    const TensorInfo* zero = has(name + "_zero_point") ? &tensor(name + "_zero_point") : nullptr;
    out_.storage.push_back(dequantize_w8a8(t, tensor(name + "_scale"), zero, rows, cols));
    return f32_weight(out_.storage.back().data(), rows, cols);
  }

  // llama.cpp Q4_0 blocks (a GGUF tensor, model/gguf_bind.h), repacked exactly for the INT4 kernels.
  Weight q4_0(const std::string& stem, int64_t rows, int64_t cols) {
    const TensorInfo& t = tensor(stem + ".q4_0");
    check_shape(t, {rows, cols});
    if (cols % 32 != 0 || t.nbytes != size_t(rows * cols / 32 * 18))
      fail(t.file, ": tensor '", t.name, "' is not whole Q4_0 blocks of [", rows, ", ", cols, "]");
    out_.int4.push_back(int4_from_q4_0(t.data, rows, cols, t.name));
    return int4_weight(rows, cols);
  }

  // llama.cpp Q8_0 blocks, split exactly into int8 codes and one scale per 32 values of a row
  // (16-row tiles but for kv_b_proj, int8_tiles_pay).
  Weight q8_0(const std::string& stem, int64_t rows, int64_t cols) {
    const TensorInfo& t = tensor(stem + ".q8_0");
    check_shape(t, {rows, cols});
    if (cols % 32 != 0 || t.nbytes != size_t(rows * cols / 32 * 34))
      fail(t.file, ": tensor '", t.name, "' is not whole Q8_0 blocks of [", rows, ", ", cols, "]");
    return int8_rows_weight(out_.int8.emplace_back(int8_from_q8_0(t.data, rows, cols, t.name)));
  }

  // llama.cpp Q4_K/Q5_K/Q6_K super-blocks, read in place by the K-quant kernels (kernels/kquant.h).
  Weight kquant(const std::string& name, KQuant kind, int64_t rows, int64_t cols) {
    const TensorInfo& t = tensor(name);
    check_shape(t, {rows, cols});
    Weight w;
    w.dtype = DType::U8;
    w.rows = rows;
    w.cols = cols;
    w.data = t.data;
    w.kquant = kind;
    if (cols % kSuperBlock != 0 || t.nbytes != size_t(rows) * w.kquant_row_bytes())
      fail(t.file, ": tensor '", t.name, "' is not whole ", name.substr(name.size() - 4), " super-blocks of [", rows, ", ", cols, "]");
    return w;
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

  // MlaWeights' optional w_uk / w_uv (GGUF attn_k_b / attn_v_b kept at their bits, gguf_bind.h).
  void absorbed(const std::string& prefix, MlaWeights& a) {
    const int64_t H = cfg_.num_attention_heads, r = cfg_.kv_lora_rank;
    if (kept_quantized(prefix + "self_attn.w_uk"))
      a.w_uk = matrix(prefix + "self_attn.w_uk.weight", H * r, cfg_.qk_nope_head_dim);
    if (kept_quantized(prefix + "self_attn.w_uv")) a.w_uv = matrix(prefix + "self_attn.w_uv.weight", H * cfg_.v_head_dim, r);
  }

  bool kept_quantized(const std::string& stem) const {
    for (const char* suffix : {".q8_0", ".q4_0", ".q4_k", ".q5_k", ".q6_k"})
      if (has(stem + suffix)) return true;
    return false;
  }

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

}  // namespace

BoundWeights bind_weights(const Checkpoint& ckpt, const ModelConfig& cfg) {
  BoundWeights out;
  Binder b(ckpt, cfg, out);
  const TensorTable table(cfg);
  ModelWeights& w = out.weights;
  w = weights_skeleton(cfg);
  for_each_tensor(cfg, w,
                  {[&](const std::string& n, Weight& m, TensorRole) { m = b.matrix(n, m.rows, m.cols); },
                   [&](const std::string& n, Vec& v, TensorRole) { v = b.vector(n, v.size); }});
  if (cfg.tie_word_embeddings) w.lm_head = w.embed_tokens;
  // The MTP modules share the main model's embedding and head, so the released checkpoints'
  // copies are only checked for shape when present.
  for (const TensorSpec& t : table.tensors())
    if (t.role == TensorRole::kMtpCopy && b.has(t.name)) b.matrix(t.name, t.shape[0], t.shape[1]);
  for (size_t i = 0; i < w.layers.size(); ++i) b.absorbed(layer_prefix(int64_t(i)), w.layers[i].self_attn);
  for (size_t k = 0; k < w.mtp.size(); ++k)
    b.absorbed(layer_prefix(int64_t(w.layers.size() + k)), w.mtp[k].block.self_attn);
  b.finish();
  return out;
}

}  // namespace dsv3
