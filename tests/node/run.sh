#!/usr/bin/env bash
# ctest driver of the node tests. `run.sh setup DIR` installs the locked npm packages (the
# official openai client) into DIR (inside the build tree); `run.sh test DIR FILE` runs one
# test file there. Without node/npm or without the npm registry the tests fail with a clear
# message, or are skipped (exit 77) when DSV3_ALLOW_SKIP=1 allows it.
set -uo pipefail
mode=$1 dir=$2
case "$mode" in
  setup)
    rm -f "$dir/.unavailable"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
      echo "node/npm not installed" > "$dir/.unavailable"; cat "$dir/.unavailable"; exit 0
    fi
    if [ -f "$dir/node_modules/openai/package.json" ] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.copy"; then
      echo "npm packages already installed"; exit 0
    fi
    if (cd "$dir" && timeout 300 npm ci --no-audit --no-fund); then
      cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.copy"
    else
      echo "npm ci failed (is the npm registry reachable?)" > "$dir/.unavailable"; cat "$dir/.unavailable"
    fi
    exit 0 ;;
  test)
    if [ -f "$dir/.unavailable" ]; then
      if [ "${DSV3_ALLOW_SKIP:-0}" = 1 ]; then echo "SKIPPED: $(cat "$dir/.unavailable") (DSV3_ALLOW_SKIP=1)"; exit 77; fi
      echo "FAILED: $(cat "$dir/.unavailable"); set DSV3_ALLOW_SKIP=1 to skip the node tests instead"; exit 1
    fi
    cd "$dir" && exec node --test --test-reporter=spec "$3" ;;
esac
echo "usage: run.sh setup|test DIR [FILE]"; exit 2
