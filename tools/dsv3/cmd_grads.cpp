// dsv3 grads: the training objective and the float32 gradient of every trained tensor for one
// batch of token sequences — what the reference gradient fixtures are checked against.
#include <cstdio>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model_path.h"
#include "train/model_train.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 grads --model DIR --tokens-file T.safetensors --out G.safetensors\n"
    "                  [--lambda-mtp 0.3] [--alpha 0.0001] [--precision f32|bf16|fp8] [--threads N]\n"
    "T holds `tokens` I64 [B, T]. G gets `loss` F32 [4] = (L, L_main, L_mtp, L_bal) and\n"
    "`grad.<hf name>` F32 for every trained tensor (L = L_main + lambda*L_mtp + L_bal; see docs/training.md).\n";

TokenRows read_tokens(const std::string& path) {
  SafetensorsFile f(path);
  const TensorInfo* t = f.find("tokens");
  if (!t) fail(path, ": no tensor 'tokens'");
  if (t->shape.size() != 2 || t->shape[0] < 1 || t->shape[1] < 1)
    fail(path, ": 'tokens' has shape ", t->shape_str(), ", expected [B, T]");
  if (t->dtype != DType::I64 && t->dtype != DType::I32) fail(path, ": 'tokens' must be I64 (or I32)");
  TokenRows rows;
  rows.B = t->shape[0];
  rows.T = t->shape[1];
  for (int64_t v : tensor_to_i64(*t)) {
    if (v < 0 || v > INT32_MAX) fail(path, ": token id ", v, " is out of range");
    rows.tokens.push_back(int32_t(v));
  }
  return rows;
}

}  // namespace

int cmd_grads(int argc, char** argv) {
  const Args a(argc, argv, {"model", "tokens-file", "out", "lambda-mtp", "alpha", "precision", "threads"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  const std::string dir = resolve_model_dir(a.str("model"));
  const TokenRows batch = read_tokens(a.required("tokens-file"));
  const std::string out_path = a.required("out");
  Objective obj;
  obj.lambda_mtp = a.number("lambda-mtp", 0.3);
  obj.alpha = a.number("alpha", 1e-4);
  const Precision prec = parse_precision(a.str("precision", "f32"));

  const ModelConfig cfg = load_config(dir + "/config.json");
  const ParamLayout layout(cfg);
  std::vector<float> params(size_t(layout.n_params())), biases(size_t(layout.n_bias()));
  std::vector<float> compute(size_t(layout.n_params())), grads(size_t(layout.n_params()), 0.0f);
  load_params(layout, dir, params.data(), biases.data());
  round_params(layout, params.data(), compute.data(), prec);
  const ModelWeights w = layout.bind(compute.data(), biases.data());

  LossNorm norm;
  norm.add(batch, int64_t(w.mtp.size()));
  TrainModel model(cfg, prec);
  const GradSink sink{compute.data(), grads.data()};
  const StepLosses l = model.run(batch, w, obj, norm, &sink);

  SafetensorsWriter out;
  const float loss[4] = {float(l.total), float(l.main), float(l.mtp), float(l.balance)};
  out.add_f32("loss", {4}, loss);
  for (const ParamTensor& t : layout.params()) out.add_f32("grad." + t.name, t.shape, grads.data() + t.offset);
  // The routing bias is not trained by gradient; its entries are zero, as in the reference file.
  const std::vector<float> zeros(size_t(layout.n_bias()), 0.0f);
  for (const ParamTensor& t : layout.biases()) out.add_f32("grad." + t.name, t.shape, zeros.data() + t.offset);
  out.write(out_path);
  std::printf("loss %.6f  main %.6f  mtp %.6f  balance %.6f  (%zu gradients -> %s)\n", l.total, l.main, l.mtp,
              l.balance, layout.params().size() + layout.biases().size(), out_path.c_str());
  return 0;
}

}  // namespace dsv3::cli
