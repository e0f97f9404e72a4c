// dsv3 quantize: a checkpoint's linear layers to block-scaled FP8, the format DeepSeek-V3 ships.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "core/fp8_blocks.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"
#include "io/sharded_writer.h"
#include "model/config.h"
#include "model/model.h"
#include "model/tensor_table.h"
#include "quantize_formats.h"
#include "quantize_gguf.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 quantize --model DIR --out DIR [--format fp8|int8|int4] [--group 128] [--asym] [--lm-head] [--shard-mb 4096] [--threads N]\n"
    "Writes a copy of the checkpoint whose linear-layer weights (every *_proj matrix: attention,\n"
    "MLP, experts, shared experts, MTP eh_proj) are F8_E4M3 with a float32 weight_scale_inv per\n"
    "128x128 block, as DeepSeek-V3 is released; embedding, output head, router gate, norms and\n"
    "biases keep their dtype, FP8 tensors are copied as they are. config.json gains the fp8\n"
    "quantization_config; tokenizer and generation config files are copied. Shards of at most\n"
    "--shard-mb MB (plus one tensor) with model.safetensors.index.json, or one model.safetensors.\n"
    "--format int8: int8 codes with the same 128x128 weight_scale_inv (quant_method blockwise_int8);\n"
    "  with --group G: 8-bit GPTQ instead (an F16 scale per G input columns, symmetric unless --asym);\n"
    "--format int4: GPTQ (qweight/qzeros/scales/g_idx, symmetric, --group input columns per scale;\n"
    "--asym: a zero point per group and output, \"sym\": false, for either GPTQ width).\n"
    "--lm-head quantizes the output head as well. FP8 sources are dequantized first for int8/int4\n"
    "(see docs/quantization.md).\n";

const char* kGgufHeader = "\nusage: dsv3 quantize --model DIR|FILE.gguf ";

std::vector<float> finite_f32(const TensorInfo& t) {
  std::vector<float> w = tensor_to_f32(t);
  for (float v : w)
    if (!std::isfinite(v)) fail(t.file, ": tensor '", t.name, "' has a non-finite value; it cannot be quantized");
  return w;
}

void write_config(const fs::path& in, const fs::path& out, const QuantTarget& target) {
  json cfg = read_json_file((in / "config.json").string());
  cfg["quantization_config"] = quantization_config(target);
  write_file_atomic((out / "config.json").string(), cfg.dump(2) + "\n");
}

// An FP8 matrix's float values (to re-quantize it to int8/int4).
std::vector<float> fp8_values(const Checkpoint& ck, const TensorInfo& t, int64_t block) {
  const TensorInfo* s = ck.find(t.name + "_scale_inv");
  const int64_t rows = t.shape[0], cols = t.shape[1];
  if (!s || s->numel() != ((rows + block - 1) / block) * ((cols + block - 1) / block))
    fail(t.file, ": tensor '", t.name, "' has no matching weight_scale_inv");
  Fp8Blocks q{std::vector<uint8_t>(t.data, t.data + t.nbytes), tensor_to_f32(*s)};
  std::vector<float> w(size_t(rows * cols));
  fp8_decode_blocks(q, rows, cols, block, w.data());
  return w;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  const Args a(argc, argv, {"model", "out", "shard-mb", "threads", "format", "group", "type", "split-tensors"},
               {"help", "lm-head", "mtp", "asym"});
  if (a.has("help")) return std::printf("%s%s%s", kUsage, kGgufHeader, kQuantizeGgufUsage), 0;
  apply_threads(a);
  if (a.str("format") == "gguf") return quantize_to_gguf(a);
  const fs::path in = a.required("model"), out = a.required("out");
  const int64_t shard_mb = a.integer("shard-mb", 4096);
  if (shard_mb < 1) fail("--shard-mb must be >= 1");
  const ModelConfig cfg = load_config((in / "config.json").string());
  // FP8 tensors are copied, so their block size is the output's too.
  const int64_t block = cfg.fp8_quantized ? cfg.weight_block_size : kFp8BlockSize;
  QuantTarget target = quant_target(a.str("format", "fp8"), a.integer("group", 128), a.has("group"), block);
  target.lm_head = a.has("lm-head");
  target.sym = !a.has("asym");
  if (!target.sym && !target.gptq) fail("--asym applies to the GPTQ formats only (--format int4, or int8 with --group)");
  fs::create_directories(out);
  if (fs::equivalent(in, out)) fail("--out must not be the --model folder");

  // The matrices DeepSeek-V3 stores in FP8: the tensor table's linear-layer weights.
  const TensorTable table(cfg);
  const Checkpoint ck(in.string());
  ShardedWriter w(out, size_t(shard_mb) << 20);
  int64_t quantized = 0;
  for (const std::string& name : ck.names()) {
    const TensorInfo& t = *ck.find(name);
    const bool fp8_source = t.dtype == DType::F8_E4M3;
    const bool is_scale = name.size() > 10 && name.compare(name.size() - 10, 10, "_scale_inv") == 0;
    if (target.format != "fp8" && is_scale && cfg.fp8_quantized) continue;  // re-quantized with its matrix
    const TensorSpec* spec = table.find(name);
    const bool linear = spec && spec->role == TensorRole::kLinear;
    if ((fp8_source && target.format == "fp8") || t.shape.size() != 2 ||
        !(linear || (target.lm_head && name == "lm_head.weight"))) {
      w.add(name, t.dtype, t.shape, t.data, t.nbytes);
      continue;
    }
    const std::vector<float> f = fp8_source ? fp8_values(ck, t, block) : finite_f32(t);
    add_quantized(target, name, f.data(), t.shape[0], t.shape[1],
                  [&](const std::string& n, DType dt, const std::vector<int64_t>& shape, const void* data, size_t bytes) {
                    w.add(n, dt, shape, data, bytes);
                  });
    ++quantized;
  }
  w.finish();
  write_config(in, out, target);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    if (fs::exists(in / f)) fs::copy_file(in / f, out / f, fs::copy_options::overwrite_existing);

  Model::load(out.string());  // the result must load: every tensor the config implies, right shapes
  std::printf("%s: %lld matrices in %s; %.2f MB -> %.2f MB\n", out.c_str(), (long long)quantized,
              describe(target).c_str(), double(ck.total_bytes()) / 1e6, double(w.total_bytes()) / 1e6);
  return 0;
}

}  // namespace dsv3::cli
