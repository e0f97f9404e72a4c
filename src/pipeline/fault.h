// Test hook for the fault tests (tests/pipeline/pp_errors.sh, pp_generate.sh):
// DSV3_PIPELINE_FAULT="RANK:OP:kill|error" makes pipeline rank RANK die (SIGKILL) or fail with
// an Error when it reaches operation OP — in training the OP-th operation of a step's list, in
// inference the OP-th hand-over of hidden states it takes part in (a receive or a send) — to
// check that the job then ends on every rank, never hangs.
#pragma once
#include <cstdint>

namespace dsv3::pipeline {

void maybe_fault(int rank, int64_t op);

}  // namespace dsv3::pipeline
