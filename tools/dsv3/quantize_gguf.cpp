#include "quantize_gguf.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "io/json_file.h"
#include "model/gguf_export.h"
#include "tokenizer/gguf_tokenizer.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

const char* kQuantizeGgufUsage =
    "--format gguf --out FILE.gguf [--type f32|f16|bf16|q8_0|q4_0|q4_k|q6_k] [--mtp] [--split-tensors N]:\n"
    "a llama.cpp deepseek2 GGUF with llama.cpp's tensor names and metadata and the folder's\n"
    "tokenizer, from any model dsv3 loads. Matrices in --type (default bf16; the others round to\n"
    "nearest; rows not whole 256-value super-blocks: Q6_K -> Q8_0, Q4_K -> Q4_0), norms and router in F32. --mtp adds the MTP modules (llama.cpp's own converter\n"
    "leaves them out); --split-tensors N writes FILE-00001-of-0000K.gguf ... with N tensors each.\n";

int quantize_to_gguf(const Args& a) {
  const std::string in = a.required("model"), out = a.required("out");
  GgufExportOptions opt;
  opt.type = gguf_export_type(a.str("type", "bf16"));
  opt.mtp = a.has("mtp");
  opt.split_tensors = a.integer("split-tensors", 0);
  if (opt.split_tensors < 0) fail("--split-tensors must be >= 0");
  opt.name = fs::path(in).filename().string();
  const auto model = Model::load(in);
  const fs::path tj = fs::path(in) / "tokenizer.json", tc = fs::path(in) / "tokenizer_config.json";
  const bool has_tokenizer = fs::is_directory(in) && fs::exists(tj);
  const auto add_tokenizer = [&](GgufWriter& w) {
    if (!has_tokenizer) return;
    const json t = read_json_file(tj.string());
    const json c = fs::exists(tc) ? read_json_file(tc.string()) : json();
    add_gguf_tokenizer(w, t, fs::exists(tc) ? &c : nullptr, model->config().vocab_size, tj.string());
  };
  const std::vector<std::string> paths = write_gguf_model(*model, out, opt, add_tokenizer);
  Model::load(paths.front());  // the result must load
  size_t bytes = 0;
  for (const auto& p : paths) bytes += fs::file_size(p);
  std::printf("%s: %zu file(s), %.2f MB, matrices in %s%s\n", paths.front().c_str(), paths.size(), double(bytes) / 1e6,
              ggml_type_name(uint32_t(opt.type)).c_str(), has_tokenizer ? ", with the tokenizer" : ", no tokenizer");
  return 0;
}

}  // namespace dsv3::cli
