// Splitting the decoder layers into pipeline stages. The first stage also runs the embedding and
// the last the final norm, the output head and the MTP modules, so an even split by layer count
// overloads the last stage; the default split balances forward FLOPs instead (DeepSeek-V3's 61
// layers on 16 stages come out uneven either way). Under DualPipe rank r holds stages r and
// P-1-r, so rank 0 (and rank P-1, for the reverse direction) holds both the embedding and the
// head with the MTP module, as in the report.
#pragma once
#include <string>
#include <vector>

#include "pipeline/layer_cost.h"
#include "pipeline/schedule.h"

namespace dsv3::pipeline {

// Decoder layers [first, end) of each stage, from the layer count of each.
struct StageRange {
  int64_t first = 0, end = 0;
};
std::vector<StageRange> stage_ranges(const std::vector<int>& stage_layers);

// Which stage runs the output head and the MTP modules: the last in training; the first in
// inference (`generate|serve --pp`), where rank 0 computes the logits and samples.
enum class HeadStage { kLast, kFirst };

// Contiguous split minimising the largest stage's forward FLOPs per token; every stage gets at
// least one layer (Error when there are fewer layers than stages).
std::vector<int> balanced_stage_layers(const ModelCost& m, int stages, HeadStage head = HeadStage::kLast);

// "--stage-layers 3,4,4,...": one count per stage, each >= 1, summing to the layer count.
std::vector<int> parse_stage_layers(const std::string& text, int stages, int layers);

// Forward FLOPs per token of each stage, embedding/head/MTP included.
std::vector<double> stage_flops(const ModelCost& m, const std::vector<int>& stage_layers,
                                HeadStage head = HeadStage::kLast);

// "rank 0: stage 0 (layers 0-2, embedding) + stage 15 (layers 58-60, head, MTP)" per rank.
std::string placement_text(const Schedule& s, const std::vector<int>& stage_layers);

}  // namespace dsv3::pipeline
