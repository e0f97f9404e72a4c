#include "io/json_file.h"
#include "model/quant_config.h"

#include "core/error.h"
#include "model/config.h"

namespace dsv3 {

namespace {

int64_t integer(const nlohmann::json& q, const char* key, int64_t fallback, const std::string& what) {
  if (!q.contains(key) || q[key].is_null()) return fallback;
  if (!q[key].is_number_integer()) fail(what, ": quantization_config.", key, " must be an integer");
  return q[key].get<int64_t>();
}

bool boolean(const nlohmann::json& q, const char* key, bool fallback, const std::string& what) {
  if (!q.contains(key) || q[key].is_null()) return fallback;
  if (!q[key].is_boolean()) fail(what, ": quantization_config.", key, " must be true or false");
  return q[key].get<bool>();
}

int64_t block_size(const nlohmann::json& q, const std::string& what) {
  if (!q.contains("weight_block_size")) return 128;
  const nlohmann::json& b = q["weight_block_size"];
  if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || b[0] != b[1] || b[0].get<int64_t>() < 1)
    fail(what, ": quantization_config.weight_block_size must be [B, B]");
  return b[0].get<int64_t>();
}

// compressed-tensors: every config group's weights must be symmetric 8-bit ints, per channel or
// per tensor, stored as int8 ("int-quantized"). Activation settings (W8A8's dynamic per-token
// int8 inputs) are accepted and not emulated: dsv3 multiplies by the exact dequantized weights.
void parse_compressed_tensors(const nlohmann::json& q, const std::string& what, QuantConfig& qc) {
  const std::string where = what + ": quantization_config";
  const std::string format = q.value("format", "");
  if (format != "int-quantized")
    fail(where, ".format \"", format, "\" is not supported for compressed-tensors (int-quantized only)");
  if (!q.contains("config_groups") || !q["config_groups"].is_object() || q["config_groups"].empty())
    fail(where, ": compressed-tensors needs a config_groups object");
  for (const auto& [name, g] : q["config_groups"].items()) {
    const nlohmann::json w = g.is_object() ? g.value("weights", nlohmann::json()) : nlohmann::json();
    if (!w.is_object()) fail(where, ".config_groups.", name, " has no weights object");
    const std::string strategy = w.value("strategy", "");
    if (w.value("num_bits", 0) != 8 || w.value("type", "") != "int" || !w.value("symmetric", false) ||
        (strategy != "channel" && strategy != "tensor"))
      fail(where, ".config_groups.", name, ".weights: only symmetric 8-bit int weights per channel or per tensor are supported");
  }
  qc.bits = 8;
}

}  // namespace

void parse_quantization_config(const nlohmann::json& q, const std::string& what, ModelConfig& c) {
  const std::string method = q.contains("quant_method") && q["quant_method"].is_string() ? q["quant_method"].get<std::string>() : "";
  QuantConfig& qc = c.quant;
  qc.method = method;
  if (method == "fp8" || method == "blockwise_int8") {
    c.fp8_quantized = method == "fp8";
    c.weight_block_size = block_size(q, what);
    if (method == "blockwise_int8" && c.weight_block_size % 32 != 0)
      fail(what, ": quantization_config.weight_block_size must be a multiple of 32 for blockwise_int8");
    return;
  }
  if (method == "gptq") {
    qc.bits = int(integer(q, "bits", 4, what));
    if (qc.bits != 4 && qc.bits != 8) fail(what, ": quantization_config.bits ", qc.bits, " is not supported for gptq (4 or 8)");
    qc.group_size = integer(q, "group_size", 128, what);
    if (qc.group_size == -1) qc.group_size = 0;  // one group per row: the loader uses the row length
    if (qc.group_size < 0 || qc.group_size % 32 != 0)
      fail(what, ": quantization_config.group_size ", qc.group_size, " is not supported (a multiple of 32, or -1)");
    qc.desc_act = boolean(q, "desc_act", false, what);
    const std::string fmt = q.contains("checkpoint_format") && q["checkpoint_format"].is_string()
                                ? q["checkpoint_format"].get<std::string>() : "gptq";
    if (fmt != "gptq" && fmt != "gptq_v2") fail(what, ": quantization_config.checkpoint_format \"", fmt, "\" is not supported");
    qc.zeros_minus_one = fmt == "gptq";
    return;
  }
  if (method == "awq") {  // AutoAWQ writes w_bit / q_group_size, transformers bits / group_size
    qc.bits = int(integer(q, "bits", integer(q, "w_bit", 4, what), what));
    qc.group_size = integer(q, "group_size", integer(q, "q_group_size", 128, what), what);
    const std::string version = q.contains("version") && q["version"].is_string() ? q["version"].get<std::string>() : "gemm";
    if (qc.bits != 4 || version != "gemm")
      fail(what, ": quantization_config: only 4-bit AWQ in the GEMM packing is supported (got ", qc.bits, "-bit ", version, ")");
    if (qc.group_size <= 0 || qc.group_size % 32 != 0)
      fail(what, ": quantization_config.group_size ", qc.group_size, " is not supported for awq (a multiple of 32)");
    return;
  }
  if (method == "compressed-tensors") return parse_compressed_tensors(q, what, qc);
  fail(what, ": quantization_config.quant_method \"", method,
       "\" is not supported (fp8, blockwise_int8, gptq, awq, compressed-tensors)");
}

}  // namespace dsv3
