#include "model/gguf_bind.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/huge_pages.h"
#include "io/gguf.h"
#include "model/gguf_config.h"
#include "model/gguf_names.h"
#include "model/tensor_table.h"

namespace dsv3 {

bool is_gguf_path(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

std::vector<std::string> gguf_split_paths(const std::string& path) {
  static const std::regex split(R"((.*)-(\d{5})-of-(\d{5})\.gguf)");
  std::smatch m;
  if (!std::regex_match(path, m, split)) return {path};
  const int n = std::stoi(m[3].str());
  if (n < 1 || std::stoi(m[2].str()) < 1 || std::stoi(m[2].str()) > n) fail(path, ": split number out of range");
  std::vector<std::string> out;
  for (int k = 1; k <= n; ++k) {
    char tail[32];
    std::snprintf(tail, sizeof tail, "-%05d-of-%05d.gguf", k, n);
    out.push_back(m[1].str() + tail);
    if (!std::filesystem::exists(out.back())) fail(path, ": split file ", out.back(), " (", k, " of ", n, ") is missing");
  }
  return out;
}

namespace {

// The opened files and the tensors converted at load; the Checkpoint keeps it alive.
struct GgufStore {
  std::vector<std::unique_ptr<GgufFile>> files;
  std::deque<HugeVector<uint8_t>> storage;  // dequantized weights, on 2 MB pages
};

struct Located {
  const GgufTensor* t;
  const std::string* file;
};

std::string ne_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += cat(i ? ", " : "", ne[i]);
  return s + "]";
}

bool plain(uint32_t type) {
  return type == uint32_t(GgmlType::F32) || type == uint32_t(GgmlType::F16) || type == uint32_t(GgmlType::BF16);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

DType plain_dtype(uint32_t type) {
  return type == uint32_t(GgmlType::F32) ? DType::F32 : type == uint32_t(GgmlType::F16) ? DType::F16 : DType::BF16;
}

class Converter {
 public:
  Converter(GgufStore& store, const std::string& set_name) : store_(store), set_(set_name) {
    for (const auto& f : store_.files)
      for (const GgufTensor& t : f->contents().tensors) {
        auto [it, fresh] = index_.emplace(t.name, Located{&t, &f->path()});
        if (!fresh) fail(f->path(), ": tensor '", t.name, "' is also stored in ", *it->second.file);
      }
  }

  bool has(const std::string& name) const { return index_.count(name) != 0; }

  // GGUF tensor `g` holding Hugging Face tensor `hf` [rows, cols] (or [size]); a merged *_exps
  // tensor has ne {cols, rows, experts}.
  void add(const std::string& hf, const GgufName& g, const std::vector<int64_t>& shape, int64_t experts) {
    const Located& l = need(g.name, hf);
    std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    if (g.expert >= 0) ne.push_back(experts);
    check_ne(l, ne);
    const size_t slab = g.expert >= 0 ? l.t->nbytes / size_t(experts) : l.t->nbytes;
    emit(hf, shape, l, l.t->data + slab * size_t(std::max<int64_t>(g.expert, 0)), slab);
  }

  // kv_b_proj [H·(dn+dv), r] from attn_k_b (ne {dn, r, H}) and attn_v_b (ne {r, dv, H}).
  void add_kv_b(const std::string& hf, int64_t layer, const ModelConfig& c) {
    const int64_t H = c.num_attention_heads, r = c.kv_lora_rank, dn = c.qk_nope_head_dim, dv = c.v_head_dim;
    const Located& k = need(gguf_k_b_name(layer), hf);
    const Located& v = need(gguf_v_b_name(layer), hf);
    check_ne(k, {dn, r, H});
    check_ne(v, {r, dv, H});
    const std::vector<float> kf = gguf_to_f32(*k.t), vf = gguf_to_f32(*v.t);
    std::vector<float> kv(size_t(H * (dn + dv) * r));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c2 = 0; c2 < r; ++c2) {
        for (int64_t d = 0; d < dn; ++d) kv[size_t((h * (dn + dv) + d) * r + c2)] = kf[size_t((h * r + c2) * dn + d)];
        for (int64_t j = 0; j < dv; ++j) kv[size_t((h * (dn + dv) + dn + j) * r + c2)] = vf[size_t((h * dv + j) * r + c2)];
      }
    const bool exact = plain(k.t->type) && k.t->type == v.t->type;
    store(hf, {H * (dn + dv), r}, *k.file, kv, exact ? plain_dtype(k.t->type) : DType::BF16);
    // The decode path's W_UK and W_UV as the file stores them when they are quantized (kept at
    // their bits, as emit() keeps any matrix): the absorbed products (model/mla.cpp) then read
    // llama.cpp's own blocks as plain rows, not a BF16 kv_b_proj. attn_k_b's rows run along dn
    // (per head W_UKᵀ: q_lat = W_UKᵀ · q_C), attn_v_b's along r.
    const std::string stem = hf.substr(0, hf.size() - std::string("kv_b_proj.weight").size());
    if (kept_quantized(k.t->type)) emit(stem + "w_uk.weight", {H * r, dn}, k, k.t->data, k.t->nbytes);
    if (kept_quantized(v.t->type)) emit(stem + "w_uv.weight", {H * dv, r}, v, v.t->data, v.t->nbytes);
  }

  static bool kept_quantized(uint32_t type) {
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
      if (type == uint32_t(t)) return true;
    return false;
  }

  // The file's tensors nothing asked for, under their own names (reported as unused).
  void add_unused() {
    for (const auto& [name, l] : index_)
      if (!used_.count(name)) {
        TensorInfo t{name, *l.file, DType::U8, {int64_t(l.t->nbytes)}, l.t->data, l.t->nbytes};
        out_.push_back(std::move(t));
      }
  }

  std::vector<TensorInfo> take() { return std::move(out_); }

 private:
  const Located& need(const std::string& name, const std::string& hf) {
    auto it = index_.find(name);
    if (it == index_.end()) fail(set_, ": missing tensor '", name, "' (", hf, ")");
    used_.insert(name);
    return it->second;
  }

  void check_ne(const Located& l, const std::vector<int64_t>& ne) const {
    if (l.t->ne != ne)
      fail(*l.file, ": tensor '", l.t->name, "' has shape ", ne_str(l.t->ne), ", expected ", ne_str(ne), " (ne, fastest first)");
  }

  void emit(const std::string& hf, const std::vector<int64_t>& shape, const Located& l, const uint8_t* data, size_t n) {
    if (plain(l.t->type)) {
      out_.push_back(TensorInfo{hf, *l.file, plain_dtype(l.t->type), shape, data, n});
      return;
    }
    const bool q4_0 = l.t->type == uint32_t(GgmlType::Q4_0), q8_0 = l.t->type == uint32_t(GgmlType::Q8_0);
    if ((q4_0 || q8_0) && shape.size() == 2 && ends_with(hf, ".weight")) {
      // Kept as it is: the binder repacks it exactly for the INT4 / INT8 kernels (weights.cpp).
      const std::string stem = hf.substr(0, hf.size() - 7);
      out_.push_back(TensorInfo{stem + (q4_0 ? ".q4_0" : ".q8_0"), *l.file, DType::U8, shape, data, n});
      return;
    }
    if (l.t->type == uint32_t(GgmlType::Q5_0) && shape.size() == 2 && ends_with(hf, ".weight")) {
      // As Q8_0 blocks, exactly (llama.cpp's Q4_K_M stores rows not a multiple of 256 as Q5_0):
      // half the bytes a BF16 copy would read, and no rounding.
      HugeVector<uint8_t>& b = store_.storage.emplace_back(n / 22 * 34);
      ggml_q5_0_to_q8_0(data, b.data(), int64_t(n / 22 * 32));
      out_.push_back(TensorInfo{hf.substr(0, hf.size() - 7) + ".q8_0", *l.file, DType::U8, shape, b.data(), b.size()});
      return;
    }
    const char* kquant = l.t->type == uint32_t(GgmlType::Q4_K)   ? ".q4_k"
                         : l.t->type == uint32_t(GgmlType::Q5_K) ? ".q5_k"
                         : l.t->type == uint32_t(GgmlType::Q6_K) ? ".q6_k"
                                                                 : nullptr;
    if (kquant && shape.size() == 2 && ends_with(hf, ".weight")) {
      // Kept as its super-blocks in the memory map: the K-quant kernels read them (kernels/kquant.h).
      out_.push_back(TensorInfo{hf.substr(0, hf.size() - 7) + kquant, *l.file, DType::U8, shape, data, n});
      return;
    }
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    std::vector<float> f(static_cast<size_t>(count));
    ggml_dequantize(GgmlType(l.t->type), data, f.data(), count);
    store(hf, shape, *l.file, f, DType::BF16);
  }

  void store(const std::string& hf, const std::vector<int64_t>& shape, const std::string& file, const std::vector<float>& f,
             DType dtype) {
    HugeVector<uint8_t>& b = store_.storage.emplace_back(f.size() * dtype_size(dtype));
    for (size_t i = 0; i < f.size(); ++i) {
      if (dtype == DType::F32) {
        std::memcpy(b.data() + 4 * i, &f[i], 4);
      } else {
        const uint16_t h = dtype == DType::F16 ? f32_to_f16(f[i]) : f32_to_bf16(f[i]);
        std::memcpy(b.data() + 2 * i, &h, 2);
      }
    }
    out_.push_back(TensorInfo{hf, file, dtype, shape, b.data(), b.size()});
  }

  GgufStore& store_;
  std::string set_;
  std::map<std::string, Located> index_;
  std::set<std::string> used_;
  std::vector<TensorInfo> out_;
};

// Split k of n must say so (split.no = k - 1, split.count = n) when it carries the keys.
void check_split(const GgufFile& f, size_t k, size_t n) {
  const GgufValue* no = f.meta("split.no");
  const GgufValue* count = f.meta("split.count");
  if (count && count->i != int64_t(n))
    fail(f.path(), ": split.count is ", count->i, " but the set has ", n, " file(s) (rename or add the other splits)");
  if (no && no->i != int64_t(k)) fail(f.path(), ": split.no is ", no->i, ", expected ", k);
}

}  // namespace

GgufModel open_gguf_model(const std::string& path) {
  auto store = std::make_shared<GgufStore>();
  const std::vector<std::string> paths = gguf_split_paths(path);
  for (size_t k = 0; k < paths.size(); ++k) {
    store->files.push_back(std::make_unique<GgufFile>(paths[k]));
    check_split(*store->files.back(), k, paths.size());
  }
  const GgufFile& first = *store->files.front();
  GgufContents all;  // the first file's metadata with every file's tensors, for the config
  all.metadata = first.contents().metadata;
  for (const auto& f : store->files) all.tensors.insert(all.tensors.end(), f->contents().tensors.begin(), f->contents().tensors.end());
  GgufModel m;
  m.config = gguf_model_config(all, first.path());
  const ModelConfig& c = m.config;

  Converter conv(*store, paths.size() > 1 ? cat(first.path(), " (split set of ", paths.size(), ")") : first.path());
  const std::string kv_b = "self_attn.kv_b_proj.weight";
  const TensorTable table(c);
  for (const TensorSpec& t : table.tensors()) {
    const GgufName g = gguf_name(t.name, c.num_hidden_layers);
    if (g.name.empty()) fail(first.path(), ": no GGUF name for tensor '", t.name, "'");
    if (t.role == TensorRole::kMtpCopy && !conv.has(g.name)) continue;  // optional copies of embedding / head
    const bool split_kv_b = ends_with(t.name, kv_b) && !conv.has(g.name);
    if (split_kv_b) {
      conv.add_kv_b(t.name, std::stoll(g.name.substr(4)), c);  // "blk.<i>."
    } else {
      conv.add(t.name, g, t.shape, c.n_routed_experts);
    }
  }
  conv.add_unused();
  m.checkpoint = std::make_unique<Checkpoint>(first.path(), conv.take(), store);
  return m;
}

}  // namespace dsv3
