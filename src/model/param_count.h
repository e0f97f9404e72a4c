// Parameter and byte counts of a model, in total and what one decoded token touches, counted
// from the tensor table (model/tensor_table.h); bytes are those of the bound, stored formats.
#pragma once
#include <cstdint>

#include "model/model.h"

namespace dsv3 {

struct ParamCount {
  int64_t total = 0;         // every parameter, MTP modules included
  int64_t mtp = 0;           // of which in MTP modules (embedding and head are shared, not counted twice)
  int64_t active = 0;        // used by one token of the main model: one embedding row, attention,
                             // dense MLPs, router + shared + top-k routed experts, norms, lm_head
  int64_t active_bytes = 0;  // bytes of stored weights read for that token (FP8 scales included)
  int64_t dense_layers = 0, moe_layers = 0;
};

ParamCount count_params(const Model& m);

}  // namespace dsv3
