#include "model/rope_extend.h"

#include <cstdint>

#include "core/error.h"

namespace dsv3 {

ModelConfig extend_context(const ModelConfig& cfg, const ContextExtension& e) {
  RopeScaling y = cfg.rope_scaling;
  int64_t original = e.original > 0 ? e.original : cfg.max_position_embeddings;
  if (y.yarn) {
    if (e.original > 0 && e.original != y.original_max_position_embeddings)
      fail("the model was already extended with YaRN from ", y.original_max_position_embeddings,
           " tokens; an original context of ", e.original, " contradicts it");
    original = y.original_max_position_embeddings;
  }
  if (e.length > INT32_MAX) fail("the extended context (", e.length, " tokens) exceeds 32-bit positions");
  if (e.length <= original)
    fail("the extended context (", e.length, " tokens) must be longer than the original one (", original, ")");
  if (!(e.beta_fast > 0 && e.beta_slow > 0 && e.beta_fast >= e.beta_slow))
    fail("YaRN needs beta_fast >= beta_slow > 0 (got ", e.beta_fast, " and ", e.beta_slow, ")");
  if (!(e.mscale >= 0)) fail("YaRN's mscale must be >= 0 (got ", e.mscale, ")");
  if (!y.yarn || !e.keep_yarn_settings) {
    y.beta_fast = e.beta_fast;
    y.beta_slow = e.beta_slow;
    y.mscale = y.mscale_all_dim = e.mscale;
  }
  y.yarn = true;
  y.original_max_position_embeddings = original;
  y.factor = double(e.length) / double(original);
  ModelConfig out = cfg;
  out.rope_scaling = y;
  out.max_position_embeddings = e.length;
  return out;
}

}  // namespace dsv3
