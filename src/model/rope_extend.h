// Context extension with YaRN, as DeepSeek-V3 extended 4K to 32K to 128K (report §4.3): the
// config's rope_scaling is set once for the target context (factor = target / original length,
// β_fast = 32, β_slow = 1, mscale = mscale_all_dim = 1, so √t = 0.1·ln(factor) + 1), and the
// model is then trained briefly at longer sequences in stages, with the same YaRN settings in
// every stage. This only rewrites the config; Rope and attention_softmax_scale (rope.h) turn it
// into frequencies and the softmax temperature for inference and training alike.
#pragma once
#include <cstdint>

#include "model/config.h"

namespace dsv3 {

struct ContextExtension {
  int64_t length = 0;    // the extended context: max_position_embeddings after the extension
  int64_t original = 0;  // the context the model was trained at; 0: the config's (see below)
  double beta_fast = 32.0, beta_slow = 1.0;  // rotations bounding the interpolation ramp
  double mscale = 1.0;                       // written as both mscale and mscale_all_dim
  bool keep_yarn_settings = true;  // an already extended model keeps its β and mscale
};

// The config of `cfg` extended to e.length tokens. The original length is the one an earlier
// extension recorded (original_max_position_embeddings), else e.original, else the config's
// max_position_embeddings; the length must exceed it. Extending an extended model again
// (the second stage, or a larger target) keeps its original length, so the factor always
// counts from the context of pre-training. Throws Error on a length it cannot extend to.
ModelConfig extend_context(const ModelConfig& cfg, const ContextExtension& e);

}  // namespace dsv3
