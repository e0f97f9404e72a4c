#include "pipeline/fault.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace dsv3::pipeline {

namespace {

struct Fault {
  int rank = -1;
  int64_t op = -1;
  bool kill = false;
};

Fault fault_from_env() {
  Fault f;
  const char* env = std::getenv("DSV3_PIPELINE_FAULT");
  char how[8] = {};
  long long op = -1;
  if (env && std::sscanf(env, "%d:%lld:%7s", &f.rank, &op, how) == 3) {
    f.op = op;
    f.kill = std::string(how) == "kill";
  }
  return f;
}

}  // namespace

void maybe_fault(int rank, int64_t op) {
  static const Fault f = fault_from_env();
  if (f.rank != rank || f.op != op) return;
  if (f.kill) std::raise(SIGKILL);
  fail("pipeline rank ", rank, ": fault injected at operation ", op, " (DSV3_PIPELINE_FAULT)");
}

}  // namespace dsv3::pipeline
