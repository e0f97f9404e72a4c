#!/usr/bin/env bash
# The soak of dsv3 serve under faults (tests/server/test_soak.cpp) for longer than CI runs it:
# 64 concurrent clients with disconnects, malformed JSON, oversized bodies, invalid UTF-8,
# unknown fields, slow clients and over-queue requests; prints the count of each and the
# resident memory after warm-up and later.
#   bash bench/soak.sh [SECONDS=600] [BUILD_DIR=build]
set -euo pipefail
seconds=${1:-600} build=${2:-build}
DSV3_SOAK_SECONDS=$seconds DSV3_TEST_DATA=$(dirname "$0")/../tests/data OMP_WAIT_POLICY=passive \
  exec "$build/tests/bin/test_soak"
