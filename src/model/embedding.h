// The two ends of the model: the token embedding (embed_tokens) and the output head (lm_head),
// shared by the main model and every MTP module. Backward: train/model_train.h (embedding) and
// train/loss.h (head, fused with the cross-entropy).
#pragma once
#include <cstdint>

#include "kernels/precision.h"
#include "kernels/weight.h"

namespace dsv3 {

// out [n, hidden] = rows tokens[i] of table [vocab, hidden], widened to float32.
void embed_forward(float* out, const int32_t* tokens, int64_t n, const Weight& table);

// logits [n, vocab] = h [n, hidden] · headᵀ. DeepSeek-V3 keeps the head out of FP8, so
// training passes high_precision() of its mode.
void head_forward(float* logits, const float* h, int64_t n, const Weight& head, Precision p = Precision::kF32);

}  // namespace dsv3
