// dsv3 init: a randomly initialised model in the Hugging Face layout, ready for `dsv3 train
// --init` or `dsv3 generate`.
#include <cstdio>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "train/train_state.h"
#include "train_codec.h"

namespace dsv3::cli {

namespace {
const char* kUsage =
    "usage: dsv3 init --config CFG.json --out DIR [--seed S] [--init-std 0.02] [--save-dtype f32|bf16]\n"
    "                 [--tokenizer DIR]\n"
    "Matrices ~ N(0, init-std^2) from a counter-based generator (the same for any thread count),\n"
    "norms 1, routing biases 0. --tokenizer copies tokenizer.json/tokenizer_config.json alongside.\n";
}

int cmd_init(int argc, char** argv) {
  const Args a(argc, argv, {"config", "out", "seed", "init-std", "save-dtype", "tokenizer", "threads"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  const ModelConfig cfg = load_config(a.required("config"));
  const std::string out = a.required("out");
  const double std = a.number("init-std", 0.02);
  if (!(std > 0)) fail("option --init-std must be > 0");
  const std::string sd = a.str("save-dtype", "f32");
  if (sd != "f32" && sd != "bf16") fail("option --save-dtype must be f32 or bf16");
  const ParamLayout layout(cfg);
  std::vector<float> params(size_t(layout.n_params())), biases(size_t(layout.n_bias()));
  init_params(layout, uint64_t(a.integer("seed", 0)), std, params.data(), biases.data());
  export_model(out, layout, params.data(), biases.data(), sd == "bf16" ? DType::BF16 : DType::F32);
  if (a.has("tokenizer")) copy_tokenizer_files(a.str("tokenizer"), out);
  std::printf("%s: %lld parameters (%zu tensors)\n", out.c_str(), (long long)layout.n_params(), layout.params().size());
  return 0;
}

}  // namespace dsv3::cli
