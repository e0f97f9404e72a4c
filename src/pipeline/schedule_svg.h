// A schedule trace drawn like the DeepSeek-V3 report's Figure 5: one row per pipeline rank,
// time to the right, each forward (F), backward (B: input gradient, BW: full) and weight (W)
// chunk a cell coloured by its micro-batch (darker for F, lighter for B and W), reverse-
// direction chunks outlined dashed with a primed number, overlapped F&B pairs as one cell with
// a bold border; each row ends with the rank's bubble fraction.
#pragma once
#include <string>

#include "pipeline/trace.h"

namespace dsv3::pipeline {

std::string trace_svg(const Trace& t, const std::string& title);

// "rank  busy ms  bubble %" per rank, and the mean.
std::string bubble_table(const Trace& t);

}  // namespace dsv3::pipeline
