// The generators behind make_schedule (schedule.h), one per schedule family.
#pragma once
#include "pipeline/schedule.h"

namespace dsv3::pipeline {

Schedule build_1f1b(int ranks, int micro_batches, bool split_w);  // 1F1B, or ZB1P when split_w
Schedule build_dualpipe(int ranks, int micro_batches);
Schedule build_dualpipev(int ranks, int micro_batches);

}  // namespace dsv3::pipeline
