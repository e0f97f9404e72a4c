#include "io/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "io/safetensors_writer.h"

namespace dsv3 {

namespace {
template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}
}  // namespace

void GgufWriter::add_u16(const std::string& key, uint16_t v) { put_str(kv_, key), put<uint32_t>(kv_, 2), put(kv_, v), ++n_kv_; }
void GgufWriter::add_i32(const std::string& key, int32_t v) { put_str(kv_, key), put<uint32_t>(kv_, 5), put(kv_, v), ++n_kv_; }
void GgufWriter::add_u32(const std::string& key, uint32_t v) { put_str(kv_, key), put<uint32_t>(kv_, 4), put(kv_, v), ++n_kv_; }
void GgufWriter::add_f32(const std::string& key, float v) { put_str(kv_, key), put<uint32_t>(kv_, 6), put(kv_, v), ++n_kv_; }
void GgufWriter::add_bool(const std::string& key, bool v) { put_str(kv_, key), put<uint32_t>(kv_, 7), put<uint8_t>(kv_, v), ++n_kv_; }
void GgufWriter::add_string(const std::string& key, const std::string& v) {
  put_str(kv_, key), put<uint32_t>(kv_, 8), put_str(kv_, v), ++n_kv_;
}
void GgufWriter::add_strings(const std::string& key, const std::vector<std::string>& v) {
  put_str(kv_, key), put<uint32_t>(kv_, 9), put<uint32_t>(kv_, 8), put<uint64_t>(kv_, v.size());
  for (const auto& s : v) put_str(kv_, s);
  ++n_kv_;
}
void GgufWriter::add_i32s(const std::string& key, const std::vector<int32_t>& v) {
  put_str(kv_, key), put<uint32_t>(kv_, 9), put<uint32_t>(kv_, 5), put<uint64_t>(kv_, v.size());
  for (int32_t x : v) put(kv_, x);
  ++n_kv_;
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne, const void* bytes,
                            size_t n) {
  tensors_.push_back({name, type, ne, std::string(static_cast<const char*>(bytes), n)});
}

std::string GgufWriter::image() const {
  constexpr size_t kAlign = 32;
  std::string out = "GGUF";
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, n_kv_);
  out += kv_;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_str(out, t.name);
    put<uint32_t>(out, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, uint32_t(t.type));
    put<uint64_t>(out, offset);
    offset += (t.bytes.size() + kAlign - 1) / kAlign * kAlign;
  }
  for (const Tensor& t : tensors_) {
    out.resize((out.size() + kAlign - 1) / kAlign * kAlign, '\0');
    out += t.bytes;
  }
  return out;
}

void GgufWriter::write(const std::string& path) const { write_file_atomic(path, image()); }

std::vector<uint8_t> ggml_quantize_q8_0(const float* x, int64_t n) {
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0;
    for (int l = 0; l < 32; ++l) amax = std::max(amax, std::fabs(x[b + l]));
    const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    out.push_back(uint8_t(h)), out.push_back(uint8_t(h >> 8));
    for (int l = 0; l < 32; ++l) out.push_back(uint8_t(int8_t(std::nearbyint(x[b + l] * inv))));
  }
  return out;
}

std::vector<uint8_t> ggml_quantize_q4_0(const float* x, int64_t n) {
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0, max = 0;
    for (int l = 0; l < 32; ++l)
      if (std::fabs(x[b + l]) > amax) amax = std::fabs(x[b + l]), max = x[b + l];
    const float d = max / -8.0f, inv = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    out.push_back(uint8_t(h)), out.push_back(uint8_t(h >> 8));
    for (int l = 0; l < 16; ++l) {
      const auto q = [&](float v) { return uint8_t(std::min(15.0f, std::floor(v * inv + 8.5f))); };
      out.push_back(uint8_t(q(x[b + l]) | (q(x[b + l + 16]) << 4)));
    }
  }
  return out;
}

std::vector<uint8_t> ggml_quantize_q6_k(const float* x, int64_t n) {
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < n; b += 256) {
    float s[16], smax = 0;
    for (int j = 0; j < 16; ++j) {  // sub-block scales
      float amax = 0, max = 0;
      for (int l = 0; l < 16; ++l)
        if (std::fabs(x[b + 16 * j + l]) > amax) amax = std::fabs(x[b + 16 * j + l]), max = x[b + 16 * j + l];
      s[j] = max / -32.0f;
      smax = std::max(smax, std::fabs(s[j]));
    }
    const uint16_t dh = f32_to_f16(smax / 127.0f);
    const float d = f16_to_f32(dh);
    uint8_t blk[210] = {};
    for (int j = 0; j < 16; ++j) {
      const int sc = d > 0 ? int(std::nearbyint(s[j] / d)) : 0;
      blk[192 + j] = uint8_t(int8_t(std::clamp(sc, -128, 127)));
      const float step = d * float(int8_t(blk[192 + j])), inv = step != 0 ? 1.0f / step : 0.0f;
      for (int l = 0; l < 16; ++l) {  // value i = 16·j + l: low 4 bits in ql, top 2 in qh (kquant_blocks.h)
        const int i = 16 * j + l, q = std::clamp(int(std::nearbyint(x[b + i] * inv)) + 32, 0, 63);
        const int h = i / 128, k = (i % 128) / 32, m = i % 32;
        blk[64 * h + m + 32 * (k % 2)] |= uint8_t((q & 0xF) << (k / 2 ? 4 : 0));
        blk[128 + 32 * h + m] |= uint8_t((q >> 4) << (2 * k));
      }
    }
    blk[208] = uint8_t(dh), blk[209] = uint8_t(dh >> 8);
    out.insert(out.end(), blk, blk + 210);
  }
  return out;
}

std::vector<uint8_t> ggml_quantize_q4_k(const float* x, int64_t n) {
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < n; b += 256) {
    float step[8], mins[8], smax = 0, mmax = 0;
    for (int j = 0; j < 8; ++j) {
      float lo = 0, hi = 0;  // the range always holds 0, so m ≥ 0 as the format needs
      for (int l = 0; l < 32; ++l) lo = std::min(lo, x[b + 32 * j + l]), hi = std::max(hi, x[b + 32 * j + l]);
      step[j] = (hi - lo) / 15.0f, mins[j] = -lo;
      smax = std::max(smax, step[j]), mmax = std::max(mmax, mins[j]);
    }
    const uint16_t dh = f32_to_f16(smax / 63.0f), mh = f32_to_f16(mmax / 63.0f);
    const float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
    uint8_t blk[144] = {};
    blk[0] = uint8_t(dh), blk[1] = uint8_t(dh >> 8), blk[2] = uint8_t(mh), blk[3] = uint8_t(mh >> 8);
    uint8_t* scales = blk + 4;
    for (int j = 0; j < 8; ++j) {
      const int sc = d > 0 ? std::clamp(int(std::nearbyint(step[j] / d)), 0, 63) : 0;
      const int mn = dmin > 0 ? std::clamp(int(std::nearbyint(mins[j] / dmin)), 0, 63) : 0;
      if (j < 4) {  // the packing core/kquant_blocks.h's scale_min_k4 reads
        scales[j] |= uint8_t(sc), scales[j + 4] |= uint8_t(mn);
      } else {
        scales[j + 4] = uint8_t((sc & 0xF) | ((mn & 0xF) << 4));
        scales[j - 4] |= uint8_t((sc >> 4) << 6);
        scales[j] |= uint8_t((mn >> 4) << 6);
      }
      const float s = d * float(sc), inv = s > 0 ? 1.0f / s : 0.0f, m = dmin * float(mn);
      for (int l = 0; l < 32; ++l) {  // part j: bytes 32·(j/2).., low nibbles for even j
        const int q = std::clamp(int(std::nearbyint((x[b + 32 * j + l] + m) * inv)), 0, 15);
        blk[16 + 32 * (j / 2) + l] |= uint8_t(j % 2 ? q << 4 : q);
      }
    }
    out.insert(out.end(), blk, blk + 144);
  }
  return out;
}

}  // namespace dsv3
