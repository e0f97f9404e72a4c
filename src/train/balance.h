// Auxiliary-loss-free load balancing (DeepSeek-V3 report §2.1.2): each MoE layer keeps a bias
// per expert that only steers which experts are chosen. After every optimizer step,
//
//   bias_i += γ · sign(mean load − load_i)     over the step's tokens,
//
// so an overloaded expert becomes less attractive and an idle one more, without a loss term
// pulling the model's own affinities (which would trade quality for balance).
#pragma once
#include <cstdint>
#include <vector>

#include "train/params.h"

namespace dsv3 {

// load: tokens per expert of each MoE layer (main layers, then MTP blocks), as StepLosses has
// it. Layers without a bias (no noaux_tc routing) are left alone.
void update_routing_bias(const ParamLayout& layout, float* biases, const std::vector<std::vector<int64_t>>& load,
                         double gamma);

// max load / mean load of each layer (1 = perfectly balanced; top_k/n_experts · E at worst).
std::vector<double> load_max_over_mean(const std::vector<std::vector<int64_t>>& load);

}  // namespace dsv3
