// Thread count for every parallel loop (OpenMP). Defaults to all cores; `--threads N` overrides.
#pragma once

namespace dsv3 {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();

}  // namespace dsv3
