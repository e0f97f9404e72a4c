// The picture of a --profile trace (dsv3 plot --profile): one lane per rank, a box per span
// coloured by category (compute, communication, wait), with a time axis in milliseconds.
#pragma once
#include <string>

#include "io/json_file.h"

namespace dsv3::dist {

// Spans overlapping [from_ms, to_ms] (to_ms <= from_ms: the whole trace). Throws Error on a
// file that is not a trace of this kind.
std::string trace_svg(const json& trace, double from_ms, double to_ms, const std::string& title);

}  // namespace dsv3::dist
