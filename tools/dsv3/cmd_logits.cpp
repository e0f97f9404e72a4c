// dsv3 logits: the main logits of every prompt position [T, V] (and the MTP logits [T-1, V])
// as little-endian float32, row-major.
#include <cstdio>
#include <vector>

#include "cli_args.h"
#include "expert_parallel_run.h"
#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "model_path.h"
#include "text_prompt.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 logits --model DIR (--tokens 5,9,13 | --prompt TEXT [--chat]) --out FILE [--mtp-out FILE2] [--threads N]\n"
    "Writes float32 logits [T, vocab] of every position (and MTP logits [T-1, vocab]).\n";

void write_floats(const std::string& path, const std::vector<float>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail(path, ": cannot create");
  const size_t n = std::fwrite(v.data(), sizeof(float), v.size(), f);
  if (std::fclose(f) != 0 || n != v.size()) fail(path, ": write failed");
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  const Args a(argc, argv, {"model", "tokens", "prompt", "out", "mtp-out", "threads", "ep", "profile"}, {"chat", "help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), std::fputs(kPromptOptionsHelp, stdout), std::fputs(kEpUsage, stdout), 0;
  apply_threads(a);
  const std::string out_path = a.required("out");
  const auto tok = a.has("prompt") ? load_model_tokenizer(resolve_model_dir(a.str("model"))) : std::nullopt;
  const std::vector<int32_t> tokens = prompt_tokens(a, tok ? &*tok : nullptr);
  const auto model = load_model(a.str("model"));
  const ExpertParallelRun ep(a, *model, resolve_model_dir(a.str("model")));
  const ModelConfig& cfg = model->config();
  const int64_t T = int64_t(tokens.size()), H = cfg.hidden_size, V = cfg.vocab_size;
  if (T > cfg.max_position_embeddings) fail("prompt of ", T, " tokens exceeds the context of ", cfg.max_position_embeddings);
  if (a.has("mtp-out") && model->mtp_depth() == 0) fail("--mtp-out: this checkpoint has no MTP module");

  TokenBatch batch;
  for (int64_t i = 0; i < T; ++i) batch.add(tokens[size_t(i)], int32_t(i), 0);
  SequenceCache cache = model->new_cache();
  SequenceCache* caches[] = {&cache};
  std::vector<float> hidden(size_t(T * H)), logits(size_t(T * V));
  model->forward(batch, caches, hidden.data());
  model->logits(logits.data(), hidden.data(), T);
  if (ep.output_rank()) write_floats(out_path, logits);

  if (a.has("mtp-out")) {
    // Row i: the main model's state at i and the token at i + 1, predicting the token at i + 2.
    TokenBatch mb;
    for (int64_t i = 0; i + 1 < T; ++i) mb.add(tokens[size_t(i + 1)], int32_t(i), 0);
    SequenceCache mcache = model->new_mtp_cache();
    SequenceCache* mcaches[] = {&mcache};
    std::vector<float> mh(size_t((T - 1) * H)), ml(size_t((T - 1) * V));
    if (T > 1) {
      model->mtp_forward(0, hidden.data(), mb, mcaches, mh.data());
      model->logits(ml.data(), mh.data(), T - 1);
    }
    if (ep.output_rank()) write_floats(a.str("mtp-out"), ml);
  }
  ep.write_profile();
  return 0;
}

}  // namespace dsv3::cli
