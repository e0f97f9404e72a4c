#include "pipeline_generate.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/hash.h"
#include "dist/expert_parallel.h"
#include "io/checkpoint.h"
#include "pipeline/layer_cost.h"
#include "pipeline/stages.h"

namespace dsv3::cli {

PipelineGenerateRun::PipelineGenerateRun(const Args& a, Model& model, const std::string& dir) {
  if (a.has("stage-layers") && !a.has("pp")) fail("--stage-layers needs --pp (pipeline parallelism)");
  if (a.has("micro-batches") && !a.has("pp")) fail("--micro-batches needs --pp (pipeline parallelism)");
  if (a.has("in-flight") && !a.has("pp")) fail("--in-flight needs --pp (pipeline parallelism)");
  if (!a.has("pp")) return;
  dist::Communicator& world = dist::world();
  dist::quiet_other_ranks();
  const int64_t E = a.integer("ep", 1);  // with --ep: each stage's routed experts over E ranks
  if (a.has("profile")) dist::fail_on_every_rank("--profile does not run with --pp yet (docs/pipeline.md)");
  const int64_t P = a.integer("pp", 0), M = a.integer("micro-batches", 1);
  const std::string what = cat(P, '/', a.str("stage-layers", ""), '/', M, '/', E);
  dist::check_same_everywhere(world, fnv1a(what.data(), what.size()), "--pp, --stage-layers, --micro-batches or --ep");
  if (M < 1) dist::fail_on_every_rank(cat("--micro-batches must be at least 1, got ", M));
  in_flight_ = a.integer("in-flight", P);  // one step per stage: every stage busy
  if (in_flight_ < 1) dist::fail_on_every_rank(cat("--in-flight must be at least 1, got ", in_flight_));
  if (P * E != world.size())
    dist::fail_on_every_rank(E == 1 ? cat("--pp ", P, " but the job has ", world.size(), " rank(s): start it with mpirun -np ", P)
                                    : cat("--pp ", P, " × --ep ", E, " but the job has ", world.size(),
                                          " rank(s): start it with mpirun -np ", P * E));
  if (const Checkpoint* ck = model.checkpoint()) {
    const auto config = (std::filesystem::path(dir) / "config.json").string();
    dist::check_same_everywhere(world, dist::checkpoint_fingerprint(config, *ck), "config or checkpoint (--model)");
  }
  const ModelConfig& cfg = model.config();
  std::vector<int> layers;
  try {  // every rank reaches here with the same options, so a bad one fails on all of them
    const int L = int(cfg.num_hidden_layers);
    // Rank 0 runs the head for every row, and the MTP module with --speculative.
    pipeline::ModelCost cost = pipeline::model_cost(cfg, 1);
    if (!a.has("speculative")) cost.mtp = {};
    layers = a.has("stage-layers") ? pipeline::parse_stage_layers(a.str("stage-layers"), int(P), L)
                                   : pipeline::balanced_stage_layers(cost, int(P), pipeline::HeadStage::kFirst);
  } catch (const Error& e) {
    dist::fail_on_every_rank(e.what());
  }
  groups_ = std::make_unique<dist::Groups>(dist::make_groups(world, {int(E), int(P), int(E)}));
  stages_ = std::make_unique<pipeline::InferenceStages>(*groups_->pipeline, layers, M);
  model_ = &model;
  model.set_stage(stages_.get());
  if (world.rank() == 0) steps_ = std::make_unique<MainCalls>(world, cfg.hidden_size, /*send_mtp=*/E > 1);
  if (world.rank() == 0) {
    std::string text;
    for (size_t s = 0; s < layers.size(); ++s) text += cat(s ? ", " : "", "stage ", s, ": ", layers[s], " layers");
    std::fprintf(stderr, "pipeline: %s\n", text.c_str());
  }
}

void PipelineGenerateRun::follow() const {
  follow_steps(*model_, dist::world(), /*prefix_cache_bytes=*/0, /*dp_moe=*/nullptr, /*runs_mtp=*/groups_->pp_rank == 0);
}

void PipelineGenerateRun::stop() {
  if (steps_) steps_->steps.stop();
}

PipelineGenerateRun::~PipelineGenerateRun() {
  if (model_) model_->set_stage(nullptr);
}

}  // namespace dsv3::cli
