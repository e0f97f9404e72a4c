// Thread count for every parallel loop (OpenMP). Defaults to all cores; `--threads N` overrides.
#pragma once

namespace dsv3 {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();
// The threads a parallel region opened here would run on: num_threads(), or 1 inside a region
// already at the active-level limit (OpenMP then runs the nested region on the calling thread
// alone, as for the MoE experts multiplied side by side). What a product splits its work by.
int team_threads();

}  // namespace dsv3
