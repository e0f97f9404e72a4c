// The passkey (needle-in-a-haystack) grid of `dsv3 eval --kind passkey --json` as an SVG heat
// map: one row per prompt length, one column per depth, each cell coloured from red (no key
// retrieved) to green (all retrieved) and labelled with its count.
#pragma once
#include <string>

#include "io/json_file.h"

namespace dsv3::eval {

// `report` is the JSON object of a passkey run (its "grid": [{length, depth, n, correct}]);
// throws Error naming `what` when it is not one.
std::string needle_svg(const json& report, const std::string& title, const std::string& what);

}  // namespace dsv3::eval
