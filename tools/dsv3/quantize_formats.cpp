#include "quantize_formats.h"

#include "core/error.h"
#include "core/fp8_blocks.h"
#include "core/int_quant.h"
#include "io/json_file.h"

namespace dsv3::cli {

QuantTarget quant_target(const std::string& format, int64_t group, bool group_given, int64_t fp8_block) {
  QuantTarget q;
  q.format = format;
  q.block = fp8_block;
  if (format != "fp8" && format != "int8" && format != "int4") fail("--format must be fp8, int8 or int4 (got ", format, ")");
  if (group_given && format == "fp8") fail("--group applies to --format int8 and int4 only");
  if (format == "int8" && q.block % 32 != 0) fail("--format int8 needs a block size that is a multiple of 32");
  if (group < 32 || group % 32 != 0) fail("--group must be a positive multiple of 32 (got ", group, ")");
  q.group = group;
  q.gptq = format == "int4" || group_given;  // int8 with --group: 8-bit GPTQ
  return q;
}

void add_quantized(const QuantTarget& q, const std::string& name, const float* w, int64_t rows, int64_t cols,
                   const AddTensor& add) {
  const int64_t b = q.block, scale_shape[2] = {(rows + b - 1) / b, (cols + b - 1) / b};
  if (q.format == "fp8") {
    const Fp8Blocks f = fp8_encode_blocks(w, rows, cols, b);
    add(name, DType::F8_E4M3, {rows, cols}, f.codes.data(), f.codes.size());
    add(name + "_scale_inv", DType::F32, {scale_shape[0], scale_shape[1]}, f.scale_inv.data(), f.scale_inv.size() * 4);
    return;
  }
  if (q.format == "int8" && !q.gptq) {
    const Int8Blocks i = int8_encode_blocks(w, rows, cols, b);
    add(name, DType::I8, {rows, cols}, i.codes.data(), i.codes.size());
    add(name + "_scale_inv", DType::F32, {scale_shape[0], scale_shape[1]}, i.scale_inv.data(), i.scale_inv.size() * 4);
    return;
  }
  const int bits = q.format == "int8" ? 8 : 4, per = 32 / bits;
  if (cols % per != 0) fail(name, ": ", cols, " input columns; GPTQ packs ", per, " per int32, so ", q.format, " needs a multiple of ", per);
  const GptqTensors g = gptq_encode(w, rows, cols, bits, q.group, q.sym);
  const std::string stem = name.substr(0, name.size() - 7);  // without ".weight"
  const int64_t G = (cols + q.group - 1) / q.group;
  add(stem + ".qweight", DType::I32, {cols / per, rows}, g.qweight.data(), g.qweight.size() * 4);
  add(stem + ".qzeros", DType::I32, {G, (rows + per - 1) / per}, g.qzeros.data(), g.qzeros.size() * 4);
  add(stem + ".scales", DType::F16, {G, rows}, g.scales.data(), g.scales.size() * 2);
  add(stem + ".g_idx", DType::I32, {cols}, g.g_idx.data(), g.g_idx.size() * 4);
}

json quantization_config(const QuantTarget& q) {
  if (q.format == "fp8")
    return {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"}, {"weight_block_size", {q.block, q.block}}};
  if (q.format == "int8" && !q.gptq)
    return {{"activation_scheme", "dynamic"}, {"quant_method", "blockwise_int8"}, {"weight_block_size", {q.block, q.block}}};
  return {{"quant_method", "gptq"}, {"bits", q.format == "int8" ? 8 : 4},        {"group_size", q.group},         {"sym", q.sym},
          {"desc_act", false},      {"static_groups", false}, {"checkpoint_format", "gptq"}, {"lm_head", q.lm_head}};
}

std::string describe(const QuantTarget& q) {
  if (q.gptq) return cat(q.format == "int8" ? "INT8" : "INT4", " (GPTQ, group ", q.group, q.sym ? ")" : ", zero points)");
  return cat(q.format == "fp8" ? "FP8" : "INT8", " (", q.block, "x", q.block, " blocks)");
}

}  // namespace dsv3::cli
