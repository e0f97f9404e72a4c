// Input files named on a command line: each path is a file, or a folder standing for every
// regular file below it (in name order, so a run sees the same order on every machine).
#pragma once
#include <string>
#include <vector>

namespace dsv3 {

// Throws Error naming a path that is neither a file nor a folder, or when nothing is found.
std::vector<std::string> expand_input_files(const std::vector<std::string>& paths);

}  // namespace dsv3
