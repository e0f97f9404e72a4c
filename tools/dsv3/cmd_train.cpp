// dsv3 train: trains a DeepSeek-V3-architecture model on text (or chat JSONL with --sft); see
// docs/training.md for the recipe and every option.
#include <cstdio>
#include <filesystem>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "core/hash.h"
#include "model/rope.h"
#include "model/rope_extend.h"
#include "pipeline_train.h"
#include "posttrain_args.h"
#include "train/codec.h"
#include "train/data_parallel.h"
#include "train/token_shards.h"
#include "train/trainer.h"
#include "train_codec.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 train --out DIR --steps N --data PATH[,PATH...] (--config CFG.json [--seed S] | --init DIR)\n"
    "  data:      --tokenizer DIR|bytes  --seq-len 256  --doc-split file|blank|line  --fim-rate 0.1\n"
    "             --val-fraction 0.02  --data-seed 1  --sft\n"
    "  batch:     --micro-batch 8  --batch-tokens N (gradient accumulation to N tokens per step)\n"
    "  schedule:  --lr 1e-3  --lr-final LR/10  --warmup-steps N  --decay-start STEP  --decay-end STEP\n"
    "  AdamW:     --beta1 0.9  --beta2 0.95  --weight-decay 0.1  --adam-eps 1e-8  --bf16-moments  --clip 1.0\n"
    "  objective: --lambda-mtp 0.3  --lambda-mtp-final X --lambda-mtp-switch STEP  --alpha 1e-4\n"
    "             --bias-update-speed 0.001  --bias-update-stop STEP\n"
    "  numerics:  --precision f32|bf16|fp8   init: --init-std 0.02\n"
    "  output:    --eval-every N  --eval-sequences 64  --save-every N  --log-every 1  --save-dtype f32|bf16\n"
    "             --threads N\n"
    "  parallel:  --dp D  under `mpirun -np D`: data parallelism with ZeRO-1 (docs/distributed.md)\n"
    "             --ep E  the routed experts split over E ranks of each data-parallel group\n"
    "             --measure-overlap  (with --ep) alternate steps with and without the shared expert computed\n"
    "                    while dispatched rows are in flight; print the share of the dispatch it hides\n"
    "  context:   --extend-context N  (with --init) YaRN written into the config for an N-token context\n"
    "             --original-context L (default: the config's)  --yarn-beta-fast 32  --yarn-beta-slow 1  --yarn-mscale 1\n"
    "A folder that already holds trainer_state.safetensors is resumed (same settings required).\n";

const std::set<std::string> kValued = {
    "out", "steps", "data", "config", "seed", "init", "tokenizer", "seq-len", "doc-split", "fim-rate",
    "val-fraction", "data-seed", "micro-batch", "batch-tokens", "lr", "lr-final", "warmup-steps", "decay-start",
    "decay-end", "beta1", "beta2", "weight-decay", "adam-eps", "clip", "lambda-mtp", "lambda-mtp-final",
    "lambda-mtp-switch", "alpha", "bias-update-speed", "bias-update-stop", "precision", "init-std", "eval-every",
    "eval-sequences", "save-every", "log-every", "save-dtype", "threads",
    "dp", "ep", "extend-context", "original-context", "yarn-beta-fast", "yarn-beta-slow", "yarn-mscale"};

// The options above and those of pipeline parallelism (pipeline_train.h).
std::set<std::string> valued_options() {
  std::set<std::string> v = kValued;
  v.insert(kPipelineTrainOptions.begin(), kPipelineTrainOptions.end());
  v.insert(kPostTrainOptions.begin(), kPostTrainOptions.end());
  return v;
}

int64_t positive(const Args& a, const std::string& name, int64_t fallback, int64_t min = 1) {
  const int64_t v = a.integer(name, fallback);
  if (v < min) fail("option --", name, " must be >= ", min);
  return v;
}

TrainOptions train_options(const Args& a) {
  TrainOptions o;
  o.steps = positive(a, "steps", 0);
  o.micro_batch = positive(a, "micro-batch", 8);
  o.batch_tokens = positive(a, "batch-tokens", 0, 0);
  o.lr.peak = a.number("lr", 1e-3);
  o.lr.final_lr = a.number("lr-final", o.lr.peak / 10);
  o.lr.warmup_steps = positive(a, "warmup-steps", std::min<int64_t>(100, o.steps / 10), 0);
  o.lr.decay_start = positive(a, "decay-start", o.lr.warmup_steps, 0);
  o.lr.decay_end = positive(a, "decay-end", o.steps, 0);
  if (o.lr.decay_start < o.lr.warmup_steps || o.lr.decay_end < o.lr.decay_start)
    fail("the schedule needs --warmup-steps <= --decay-start <= --decay-end");
  o.adam.beta1 = a.number("beta1", 0.9);
  o.adam.beta2 = a.number("beta2", 0.95);
  o.adam.weight_decay = a.number("weight-decay", 0.1);
  o.adam.eps = a.number("adam-eps", 1e-8);
  o.adam.bf16_moments = a.has("bf16-moments");
  o.clip = a.number("clip", 1.0);
  o.lambda_mtp.before = a.number("lambda-mtp", 0.3);
  o.lambda_mtp.after = a.number("lambda-mtp-final", o.lambda_mtp.before);
  o.lambda_mtp.at_step = a.integer("lambda-mtp-switch", -1);
  o.alpha = a.number("alpha", 1e-4);
  o.gamma.before = a.number("bias-update-speed", 0.001);
  o.gamma.after = 0.0;
  o.gamma.at_step = a.integer("bias-update-stop", -1);
  o.precision = parse_precision(a.str("precision", "f32"));
  o.eval_every = positive(a, "eval-every", 0, 0);
  o.eval_sequences = positive(a, "eval-sequences", 64, 0);
  o.save_every = positive(a, "save-every", 0, 0);
  o.log_every = positive(a, "log-every", 1, 0);
  const std::string sd = a.str("save-dtype", "f32");
  if (sd != "f32" && sd != "bf16") fail("option --save-dtype must be f32 or bf16");
  o.save_dtype = sd == "bf16" ? DType::BF16 : DType::F32;
  o.data_seed = uint64_t(a.integer("data-seed", 1));
  o.dp = int(positive(a, "dp", 1));
  o.measure_overlap = a.has("measure-overlap");
  return o;
}

DataOptions data_options(const Args& a, const TrainOptions& t) {
  DataOptions d;
  d.paths = split_list(a.required("data"));
  d.doc_split = a.str("doc-split", "file");
  d.seq_len = positive(a, "seq-len", 256, 3);
  d.fim_rate = a.number("fim-rate", 0.1);
  d.val_fraction = a.number("val-fraction", 0.02);
  if (d.fim_rate < 0 || d.fim_rate > 1 || d.val_fraction < 0 || d.val_fraction >= 1)
    fail("--fim-rate must be in [0, 1] and --val-fraction in [0, 1)");
  d.seed = t.data_seed;
  d.sft = a.has("sft");
  return d;
}

// --extend-context: the checkpoint's config with YaRN's rope_scaling for the longer context
// (model/rope_extend.h); the run then trains at --seq-len under it and writes it with the weights.
ModelConfig context_extended(const Args& a, const ModelConfig& cfg, int64_t seq_len) {
  const bool yarn_option = a.has("yarn-beta-fast") || a.has("yarn-beta-slow") || a.has("yarn-mscale");
  if (!a.has("extend-context")) {
    if (yarn_option || a.has("original-context")) fail("--original-context and --yarn-* need --extend-context N");
    return cfg;
  }
  if (!a.has("init")) fail("--extend-context continues a trained model: give --init DIR");
  ContextExtension e;
  e.length = positive(a, "extend-context", 0, 2);
  e.original = a.has("original-context") ? positive(a, "original-context", 0) : 0;
  e.beta_fast = a.number("yarn-beta-fast", e.beta_fast);
  e.beta_slow = a.number("yarn-beta-slow", e.beta_slow);
  e.mscale = a.number("yarn-mscale", e.mscale);
  e.keep_yarn_settings = !yarn_option;
  ModelConfig extended = extend_context(cfg, e);
  if (seq_len > e.length) fail("--seq-len ", seq_len, " is longer than --extend-context ", e.length);
  return extended;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  const Args a(argc, argv, valued_options(), {"help", "sft", "bf16-moments", "measure-overlap", "chat"});
  if (a.has("help"))
    return std::fputs(kUsage, stdout), std::fputs(kPipelineTrainUsage, stdout), std::fputs(kPostTrainUsage, stdout), 0;
  apply_threads(a);
  const std::string out = a.required("out");
  if (a.has("config") == a.has("init")) fail("give exactly one of --config (random init) and --init DIR");
  const ModelConfig loaded = load_config(a.has("init") ? a.str("init") + "/config.json" : a.str("config"));
  const std::string tok_dir = a.str("tokenizer", a.has("init") && fs::exists(a.str("init") + "/tokenizer.json") ? a.str("init") : "");
  if (tok_dir.empty()) fail("no tokenizer: give --tokenizer DIR (or 'bytes')");
  if (a.has("extend-context") && (a.has("teacher") || a.has("rl")))
    fail("--extend-context is a training run of its own: not with --teacher or --rl");
  PostTraining post(a, loaded, tok_dir);  // --teacher, --rl grpo
  TrainOptions opt = train_options(a);
  post.adjust(opt);
  const DataOptions dopt = post.replaces_data() ? DataOptions{} : data_options(a, opt);
  const ModelConfig cfg = context_extended(a, loaded, dopt.seq_len);
  PipelineTrainRun pp(a, cfg, opt, dopt.seq_len);  // --micro-batches, --pp: checked before any work
  // Data parallelism: every rank must have been given the same command.
  const std::string settings = cat(opt.to_json(dopt.seq_len).dump(), config_to_json(cfg).dump(), a.str("data"),
                                   a.str("init", ""), a.str("seed", "0"), a.str("tokenizer", ""), out,
                                   a.has("measure-overlap") ? "overlap" : "");
  const auto groups =
      pp.active() ? nullptr : open_train_groups(opt.dp, int(positive(a, "ep", 1)), fnv1a(settings.data(), settings.size()));
  const bool main_rank = (!groups || groups->dp_rank == 0) && pp.output_rank();
  if (main_rank && a.has("extend-context")) {
    const RopeScaling& y = cfg.rope_scaling;
    std::fprintf(stderr, "context: YaRN from %lld to %lld tokens (factor %g, beta %g/%g, softmax scale x%.4f)\n",
                 (long long)y.original_max_position_embeddings, (long long)cfg.max_position_embeddings, y.factor,
                 y.beta_fast, y.beta_slow, attention_softmax_scale(cfg) / attention_softmax_scale(loaded));
  }

  const TextCodec codec = make_codec(tok_dir, cfg.vocab_size);
  const bool shards = dopt.paths.size() == 1 && TokenShards::is_shard_dir(dopt.paths[0]);  // from dsv3 data
  const Dataset data = post.replaces_data() ? post.dataset()
                       : shards             ? shard_dataset(dopt.paths[0], dopt, cfg.vocab_size)
                                            : build_dataset(dopt, codec);
  if (main_rank)
    std::fprintf(stderr, "data: %lld train documents (%lld FIM) -> %lld sequences of %lld; %lld held-out documents -> %lld sequences\n",
                 (long long)data.train_docs, (long long)data.fim_docs, (long long)data.train.n_seq(), (long long)data.train.T,
                 (long long)data.val_docs, (long long)data.val.n_seq());

  Trainer trainer(cfg, opt, data, out, groups ? groups->data.get() : pp.data_group(), groups ? groups->expert.get() : pp.expert_group(),
                  pp.share());
  pp.attach(trainer);
  if (trainer.resume()) {
    if (main_rank) std::fprintf(stderr, "resuming %s at step %lld\n", out.c_str(), (long long)trainer.step());
  } else if (a.has("init")) {
    trainer.init_from(a.str("init"));
  } else {
    trainer.init_random(uint64_t(a.integer("seed", 0)), a.number("init-std", 0.02));
  }
  post.attach(trainer, a.str("init", ""));
  if (main_rank) copy_tokenizer_files(tok_dir, out);
  if (groups && main_rank) {
    // One process: float32 master weights (+ the rounded copy outside float32) and two moments.
    const double n = double(ParamLayout(cfg).n_params()), MiB = 1 << 20;
    std::fprintf(stderr,
                 "parallel: --dp %d --ep %d; rank 0 holds %.2f MiB of parameters (its experts; %.2f MiB in one process) "
                 "and %.2f MiB of AdamW state (ZeRO-1 slices; %.2f MiB in one process)\n",
                 opt.dp, groups->layout.ep, double(trainer.parameter_bytes()) / MiB,
                 n * 4 * (opt.precision == Precision::kF32 ? 1 : 2) / MiB, double(trainer.optimizer_bytes()) / MiB,
                 n * 2 * (opt.adam.bf16_moments ? 2 : 4) / MiB);
  }
  trainer.run();
  pp.finish(trainer);
  return 0;
}

}  // namespace dsv3::cli
