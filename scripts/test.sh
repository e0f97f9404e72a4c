#!/usr/bin/env bash
# Builds dsv3 and runs every test: the Release suite, the same suite under ASan+UBSan,
# and the fuzz targets for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV3_SANITIZE=ON -DDSV3_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs")

# libFuzzer targets (clang) for a bounded time each; a finding fails the run.
bash scripts/fuzz.sh 30
