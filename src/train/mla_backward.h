// The backward of model/mla.h's full-sequence forward (the llm.c pair: mla_forward records
// MlaActs, mla_backward consumes them).
#pragma once
#include <cstdint>

#include "model/mla.h"
#include "train/params.h"

namespace dsv3 {

// dx [n, hidden] (overwritten) from dout [n, hidden]; x is the forward's input; weight
// gradients are added through g. p: the precision the forward ran at.
void mla_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MlaWeights& w,
                  const MlaContext& ctx, Precision p, const MlaActs& a, const GradSink& g);

}  // namespace dsv3
