#include "core/parallel.h"

#include <omp.h>

namespace dsv3 {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }

int num_threads() { return omp_get_max_threads(); }

int team_threads() { return omp_get_active_level() >= omp_get_max_active_levels() ? 1 : omp_get_max_threads(); }

}  // namespace dsv3
