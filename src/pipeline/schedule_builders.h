// The generators behind make_schedule (schedule.h), one per schedule family.
#pragma once
#include "pipeline/schedule.h"

namespace dsv3::pipeline {

// Each fills in a Schedule whose kind and forward_only are already set.
void build_1f1b(Schedule& s, int ranks, int micro_batches, bool split_w);  // 1F1B, or ZB1P when split_w
void build_dualpipe(Schedule& s, int ranks, int micro_batches);
void build_dualpipev(Schedule& s, int ranks, int micro_batches);

}  // namespace dsv3::pipeline
