#!/usr/bin/env bash
# Builds dsv3 (installing Debian packages if missing) and runs it on the model that ships
# with the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target dsv3
model=tests/data/models/v3-tiny
./build/dsv3 info --model "$model"
./build/dsv3 generate --model "$model" --tokens 5,9,13 --max-new-tokens 16 --ids --stats
