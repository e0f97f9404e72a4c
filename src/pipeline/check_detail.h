// Shared by check.cpp and simulate.cpp: for every message of every communication batch, the
// peer's operation holding the matching send or receive.
#pragma once
#include <vector>

#include "pipeline/schedule.h"

namespace dsv3::pipeline {

struct Partner {
  int rank = -1;
  size_t op = 0;
};
using MessagePairs = std::vector<std::vector<std::vector<Partner>>>;  // [rank][op][message]

// Pairs the k-th send from rank a to rank b with the k-th receive on b from a (untagged
// point-to-point messages match in order); throws Error when they carry different values.
MessagePairs pair_messages(const Schedule& s);

}  // namespace dsv3::pipeline
