// The input projection of a multi-token-prediction module (DeepSeek-V3 report §2.2, eq. 21):
//
//   x_i = eh_proj([enorm(embed(t_{i+k})) ; hnorm(h^{k-1}_i)])
//
// with h^{k-1} the previous depth's final-normed state. The module then runs its decoder block
// (model/block.h) and shared_head.norm; the embedding and output head are the main model's.
// Inference (Model::mtp_forward) and training (TrainModel) both call this; its backward is in
// train/model_train.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/precision.h"
#include "model/weights.h"

namespace dsv3 {

// x [n, hidden] from the token embeddings emb [n, hidden] and the previous depth's states
// prev [n, hidden]. cat (optional) receives eh_proj's input [n, 2·hidden].
void mtp_input_forward(float* x, const float* emb, const float* prev, int64_t n, const MtpWeights& w, float eps,
                       Precision p = Precision::kF32, std::vector<float>* cat = nullptr);

}  // namespace dsv3
