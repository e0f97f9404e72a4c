#!/usr/bin/env bash
# Builds dsv3 and runs every test: the Release suite, the same suite under ASan+UBSan,
# and the fuzz targets for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh  # Node and npm included: the official-client and tokenizer tests need them
# Those tests fail rather than skip when node, npm or the npm registry is missing, unless
# DSV3_ALLOW_SKIP=1 (off by default) allows skipping them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "${DSV3_ALLOW_SKIP:-0}" != 1 ]; then
    echo "test.sh: node/npm missing after install-deps.sh; set DSV3_ALLOW_SKIP=1 to run without them" >&2
    exit 1
  fi
fi
jobs=$(nproc)
phase() { echo "== test.sh: $1 at $((SECONDS / 60))m$((SECONDS % 60))s"; }

phase "Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
phase "Release suite"
(cd build && ctest --output-on-failure -j"$jobs")

# The sanitizer build keeps line tables only (-g1; stack traces keep file:line): full debug
# information made compiling under ASan+UBSan a quarter slower, and that build is most of CI's
# time. It stays on GCC: clang cannot vectorize the kernels' `omp simd` loops under ASan, so
# the tests that check a row's result is bit-identical in any batch would fail there.
phase "ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DDSV3_SANITIZE=ON -DDSV3_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
phase "ASan+UBSan suite"
# Four slow repeats run in the Release suite only (CI must stay under 40 minutes; under ASan
# they took 148 s of the suite's test time): the same code runs under ASan in their sibling
# cases — speculative greedy on the v3_tiny draft2 and fp8 draft1 fixtures, the other
# finite-difference gradient check, the seeded speculative-sampling test.
asan_skip='GreedySpeculative\.EqualsPlainGreedyTokenForToken/v3_tiny_(fp8_draft3|draft4)'
asan_skip+='|TrainFiniteDifference\.SoftmaxGroupsNoQLoraMtpDepth2|SpeculativeSampling\.OutputIsDistributedAsTheTargetModel'
(cd build-asan && ctest --output-on-failure -j"$jobs" -E "$asan_skip")

# libFuzzer targets (clang) for a bounded time each; a finding fails the run.
phase "fuzz"
bash scripts/fuzz.sh 10  # seconds per target: CI must stay under 40 minutes
phase "done"
