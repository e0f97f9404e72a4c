// The integer weight formats dsv3 writes and reads, in their published Hugging Face layouts:
//
// Block-wise INT8 ("quant_method": "blockwise_int8", the FP8 checkpoints' layout with int8
// codes): a matrix [rows, cols] stored as I8 codes and one float32 multiplier per block x block
// tile (`weight_scale_inv`, [⌈rows/b⌉, ⌈cols/b⌉]), w[r][c] = codes[r][c] · scale_inv[r/b][c/b].
// The scale maps a block's largest magnitude to 127 (symmetric, no zero point).
//
// GPTQ ("quant_method": "gptq", AutoGPTQ's "gptq" checkpoint format, 4 or 8 bits): for a Linear
// weight W [out, in] the checkpoint holds, transposed to [in, out] as the CUDA kernels read it,
//   qweight int32 [in·bits/32, out]       element (i, o) at bits (i % per) · bits of qweight[i / per][o]
//   qzeros  int32 [groups, out·bits/32]   zero of (g, o) at bits (o % per) · bits of qzeros[g][o / per],
//                                          stored minus one ("gptq" format; "gptq_v2" stores it as is)
//   scales  F16   [groups, out]
//   g_idx   int32 [in]                     group of input row i (i / group_size unless act-order)
// with per = 32 / bits and groups = ⌈in / group_size⌉; W[o][i] = scales[g][o] · (q(i, o) - zero(g, o)),
// g = g_idx[i].
#pragma once
#include <cstdint>
#include <vector>

namespace dsv3 {

struct Int8Blocks {
  std::vector<int8_t> codes;     // [rows, cols]
  std::vector<float> scale_inv;  // [⌈rows/block⌉, ⌈cols/block⌉]
};

// Round-to-nearest-even of w · 127 / (block max-abs), scale_inv = block max-abs / 127 (an all-zero
// block: scale 1); the tiling is core/block_scale.h's, shared with the FP8 blocks.
Int8Blocks int8_encode_blocks(const float* w, int64_t rows, int64_t cols, int64_t block);
void int8_decode_blocks(const Int8Blocks& q, int64_t rows, int64_t cols, int64_t block, float* w);

// A GPTQ-quantized matrix as stored (views into the checkpoint, or owned by GptqTensors).
struct GptqView {
  const int32_t* qweight = nullptr;
  const int32_t* qzeros = nullptr;
  const uint16_t* scales = nullptr;  // F16
  const int32_t* g_idx = nullptr;    // may be null: i / group_size
  int64_t out = 0, in = 0;           // W is [out, in]
  int bits = 4;
  int64_t group_size = 128;          // -1 in the config means one group (= in)
  bool zeros_minus_one = true;       // checkpoint_format "gptq" (true) or "gptq_v2" (false)

  int64_t groups() const { return (in + group_size - 1) / group_size; }
  int64_t group_of(int64_t i) const { return g_idx ? g_idx[i] : i / group_size; }
  int q(int64_t i, int64_t o) const;
  int zero(int64_t g, int64_t o) const;
  float scale(int64_t g, int64_t o) const;
  float value(int64_t o, int64_t i) const { const int64_t g = group_of(i); return scale(g, o) * float(q(i, o) - zero(g, o)); }
};

// AWQ ("quant_method": "awq", "version": "gemm", AutoAWQ's GEMM packing), 4-bit, zero points:
//   qweight int32 [in, out/8]      output o of input row i in word qweight[i][o / 8], nibble kAwqSlot[o % 8]
//   qzeros  int32 [groups, out/8]  the same packing (zero as is, no offset)
//   scales  F16   [groups, out]
// (AutoAWQ packs outputs 8j + {0, 2, 4, 6, 1, 3, 5, 7} into nibbles 0..7.)
// W[o][i] = scales[g][o] · (q(i, o) - zero(g, o)), g = i / group_size.
struct AwqView {
  const int32_t* qweight = nullptr;
  const int32_t* qzeros = nullptr;
  const uint16_t* scales = nullptr;
  int64_t out = 0, in = 0, group_size = 128;

  int64_t groups() const { return (in + group_size - 1) / group_size; }
  int64_t group_of(int64_t i) const { return i / group_size; }
  int q(int64_t i, int64_t o) const { return nibble(qweight[i * (out / 8) + o / 8], o); }
  int zero(int64_t g, int64_t o) const { return nibble(qzeros[g * (out / 8) + o / 8], o); }
  float scale(int64_t g, int64_t o) const;
  float value(int64_t o, int64_t i) const { const int64_t g = group_of(i); return scale(g, o) * float(q(i, o) - zero(g, o)); }

 private:
  static int nibble(int32_t word, int64_t o) {
    static constexpr int kAwqSlot[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    return int((uint32_t(word) >> (4 * kAwqSlot[o % 8])) & 15);
  }
};

struct GptqTensors {
  std::vector<int32_t> qweight, qzeros, g_idx;
  std::vector<uint16_t> scales;
  GptqView view(int64_t out, int64_t in, int bits, int64_t group_size) const;
};

// Round-to-nearest GPTQ ("desc_act": false) of w [out, in], symmetric ("sym": true, zero
// 2^(bits-1)) or asymmetric (a zero point per group and output): per (group, output) the scale
// (and zero) with the least squared error among a few candidates (int_quant.cpp), the scale
// rounded to F16 before the codes are chosen.
GptqTensors gptq_encode(const float* w, int64_t out, int64_t in, int bits, int64_t group_size, bool sym);

// W [out, in] from a view.
void gptq_decode(const GptqView& v, float* w);

}  // namespace dsv3
