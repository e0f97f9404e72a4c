// What each piece of a DeepSeek-V3-family model costs, from its config alone (no weights): the
// parameters of each decoder layer, the embedding, the head and the MTP modules, and the
// forward FLOPs per token — the inputs of stage partitioning and of the cluster planner.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv3::pipeline {

struct LayerCost {
  int64_t params = 0;          // every parameter of the layer
  int64_t expert_params = 0;   // of which routed experts (split over EP ranks)
  double flops_per_token = 0;  // forward, at the given sequence length (causal attention)
  bool moe = false;
};

struct ModelCost {
  std::vector<LayerCost> layers;  // decoder layers 0..num_hidden_layers-1
  LayerCost embedding;            // embed_tokens (first stage)
  LayerCost head;                 // norm + lm_head (last stage)
  LayerCost mtp;                  // all MTP modules (last stage; embedding and head shared)
  int64_t total_params() const;
};

ModelCost model_cost(const ModelConfig& c, int64_t seq_len);

}  // namespace dsv3::pipeline
