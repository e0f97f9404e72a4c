#include "model/gguf_export.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/error.h"
#include "kernels/linear.h"
#include "model/gguf_config.h"
#include "model/gguf_names.h"
#include "model/tensor_table.h"

namespace dsv3 {

GgmlType gguf_export_type(const std::string& name) {
  std::string n = name;
  for (char& ch : n) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (n == "f32") return GgmlType::F32;
  if (n == "f16") return GgmlType::F16;
  if (n == "bf16") return GgmlType::BF16;
  if (n == "q8_0") return GgmlType::Q8_0;
  if (n == "q4_0") return GgmlType::Q4_0;
  if (n == "q4_k") return GgmlType::Q4_K;
  if (n == "q6_k") return GgmlType::Q6_K;
  fail("GGUF type '", name, "' is not one dsv3 writes (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
}

namespace {

struct OutTensor {
  std::string name;
  GgmlType type;
  std::vector<int64_t> ne;
  std::vector<uint8_t> bytes;
};

bool quantized(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

// x [rows, cols] in type t (rows are whole blocks for the quantized types).
std::vector<uint8_t> encode(const float* x, int64_t rows, int64_t cols, GgmlType t) {
  std::vector<uint8_t> out;
  const size_t n = size_t(rows * cols);
  if (t == GgmlType::F32) {
    out.resize(4 * n);
    std::memcpy(out.data(), x, 4 * n);
  } else if (t == GgmlType::F16 || t == GgmlType::BF16) {
    out.resize(2 * n);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = t == GgmlType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<uint8_t> b = t == GgmlType::Q8_0   ? ggml_quantize_q8_0(x + r * cols, cols)
                                     : t == GgmlType::Q4_0 ? ggml_quantize_q4_0(x + r * cols, cols)
                                     : t == GgmlType::Q4_K ? ggml_quantize_q4_k(x + r * cols, cols)
                                                           : ggml_quantize_q6_k(x + r * cols, cols);
      out.insert(out.end(), b.begin(), b.end());
    }
  }
  return out;
}

std::vector<float> widen(const Weight& w) {
  std::vector<float> f(size_t(w.rows * w.cols));
  for (int64_t r = 0; r < w.rows; ++r) weight_row_f32(f.data() + r * w.cols, w, r);
  return f;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The layer of a Hugging Face name ("model.layers.<i>."), or -1.
int64_t hf_layer(const std::string& name) {
  const std::string p = "model.layers.";
  return name.rfind(p, 0) == 0 ? std::atoll(name.c_str() + p.size()) : -1;
}

class Exporter {
 public:
  Exporter(const ModelConfig& c, const GgufExportOptions& o) : c_(c), o_(o) {}

  void matrix(const std::string& hf, const Weight& w) {
    if (skipped(hf)) return;
    const GgufName g = gguf_name(hf, c_.num_hidden_layers);
    if (g.name.empty()) fail("no GGUF name for tensor '", hf, "'");
    const std::vector<float> f = widen(w);
    if (ends_with(hf, "self_attn.kv_b_proj.weight")) return kv_b(hf, f);
    const GgmlType t = ends_with(hf, "mlp.gate.weight") ? GgmlType::F32 : type_for(w.cols);
    std::vector<uint8_t> bytes = encode(f.data(), w.rows, w.cols, t);
    if (g.expert < 0) return add(g.name, t, {w.cols, w.rows}, std::move(bytes));
    // Experts arrive in order 0..E-1: append each one's slab to the merged tensor.
    OutTensor& m = experts_[g.name];
    if (m.name.empty()) m = {g.name, t, {w.cols, w.rows, c_.n_routed_experts}, {}};
    m.bytes.insert(m.bytes.end(), bytes.begin(), bytes.end());
    if (g.expert == c_.n_routed_experts - 1) {
      out_.push_back(std::move(m));
      experts_.erase(g.name);
    }
  }

  void vector(const std::string& hf, const Vec& v) {
    if (skipped(hf)) return;
    const GgufName g = gguf_name(hf, c_.num_hidden_layers);
    if (g.name.empty()) fail("no GGUF name for tensor '", hf, "'");
    add(g.name, GgmlType::F32, {v.size}, encode(v.data, 1, v.size, GgmlType::F32));
  }

  std::vector<OutTensor>& tensors() { return out_; }

 private:
  bool skipped(const std::string& hf) const { return !o_.mtp && hf_layer(hf) >= c_.num_hidden_layers; }

  // As llama-quantize: K-quants fall back for rows that are not whole 256-value super-blocks
  // (Q6_K to Q8_0; Q4_K to Q4_0 here, where llama.cpp takes Q5_0).
  GgmlType type_for(int64_t cols) const {
    const bool k = o_.type == GgmlType::Q6_K || o_.type == GgmlType::Q4_K;
    const GgmlType t = k && cols % 256 != 0 ? (o_.type == GgmlType::Q6_K ? GgmlType::Q8_0 : GgmlType::Q4_0) : o_.type;
    return quantized(t) && cols % 32 != 0 ? GgmlType::BF16 : t;
  }

  void add(const std::string& name, GgmlType t, std::vector<int64_t> ne, std::vector<uint8_t> bytes) {
    out_.push_back({name, t, std::move(ne), std::move(bytes)});
  }

  // kv_b_proj [H·(dn+dv), r] -> attn_k_b [H, r, dn] (per head transposed) and attn_v_b [H, dv, r].
  void kv_b(const std::string& hf, const std::vector<float>& kv) {
    const int64_t H = c_.num_attention_heads, r = c_.kv_lora_rank, dn = c_.qk_nope_head_dim, dv = c_.v_head_dim;
    std::vector<float> kb(size_t(H * r * dn)), vb(size_t(H * dv * r));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c = 0; c < r; ++c) {
        for (int64_t d = 0; d < dn; ++d) kb[size_t((h * r + c) * dn + d)] = kv[size_t((h * (dn + dv) + d) * r + c)];
        for (int64_t j = 0; j < dv; ++j) vb[size_t((h * dv + j) * r + c)] = kv[size_t((h * (dn + dv) + dn + j) * r + c)];
      }
    const int64_t layer = hf_layer(hf);
    const GgmlType tk = type_for(dn), tv = type_for(r);
    add(gguf_k_b_name(layer), tk, {dn, r, H}, encode(kb.data(), H * r, dn, tk));
    add(gguf_v_b_name(layer), tv, {r, dv, H}, encode(vb.data(), H * dv, r, tv));
  }

  const ModelConfig& c_;
  const GgufExportOptions& o_;
  std::vector<OutTensor> out_;
  std::map<std::string, OutTensor> experts_;
};

uint32_t file_type(GgmlType t) {  // llama.cpp's llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0, MOSTLY_BF16
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q4_K: return 15;  // MOSTLY_Q4_K_M
    case GgmlType::Q6_K: return 18;
    default: return 32;
  }
}

}  // namespace

std::vector<std::string> write_gguf_model(const Model& model, const std::string& out, const GgufExportOptions& opt,
                                          const std::function<void(GgufWriter&)>& add_meta) {
  if (!ends_with(out, ".gguf")) fail(out, ": a GGUF file name must end in .gguf");
  ModelConfig cfg = model.config();
  Exporter ex(cfg, opt);
  ModelWeights w = model.weights();
  for_each_tensor(cfg, w,
                  {[&](const std::string& n, Weight& m, TensorRole) { ex.matrix(n, m); },
                   [&](const std::string& n, Vec& v, TensorRole) { ex.vector(n, v); }});
  std::vector<OutTensor>& tensors = ex.tensors();
  if (!opt.mtp) cfg.num_nextn_predict_layers = 0;

  const size_t per = opt.split_tensors > 0 ? size_t(opt.split_tensors) : tensors.size();
  const size_t files = std::max<size_t>(1, (tensors.size() + per - 1) / per);
  std::vector<std::string> paths;
  for (size_t k = 0; k < files; ++k) {
    GgufWriter wr;
    if (k == 0) {
      add_gguf_model_config(wr, cfg);
      if (!opt.name.empty()) wr.add_string("general.name", opt.name);
      wr.add_u32("general.file_type", file_type(opt.type));
      wr.add_u32("general.quantization_version", 2);
      if (add_meta) add_meta(wr);
    }
    std::string path = out;
    if (opt.split_tensors > 0) {
      wr.add_u16("split.no", uint16_t(k));
      wr.add_u16("split.count", uint16_t(files));
      wr.add_i32("split.tensors.count", int32_t(tensors.size()));
      char tail[32];
      std::snprintf(tail, sizeof tail, "-%05zu-of-%05zu.gguf", k + 1, files);
      path = out.substr(0, out.size() - 5) + tail;
    }
    for (size_t i = k * per; i < std::min(tensors.size(), (k + 1) * per); ++i) {
      OutTensor& t = tensors[i];
      wr.add_tensor(t.name, t.type, t.ne, t.bytes.data(), t.bytes.size());
      std::vector<uint8_t>().swap(t.bytes);  // the writer holds its own copy
    }
    wr.write(path);
    paths.push_back(path);
  }
  return paths;
}

}  // namespace dsv3
