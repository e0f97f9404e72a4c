#!/usr/bin/env bash
# Builds dsv3 (installing Debian packages if missing) and runs it on the model that ships with
# the repository (models/default: a small DeepSeek-V3-architecture model trained by dsv3 train).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target dsv3
model=models/default
./build/dsv3 info --model "$model"
echo "--- greedy continuation, MTP speculative decoding:"
./build/dsv3 generate --model "$model" --prompt "dog, domestic dog:" --max-new-tokens 48 --temperature 0 \
  --speculative mtp --stats
echo "--- sampled continuation (temperature 0.8, top-p 0.95, seed 7):"
./build/dsv3 generate --model "$model" --prompt "river:" --max-new-tokens 32 --temperature 0.8 \
  --top-p 0.95 --seed 7 --stats
echo "--- a batch of three token prompts of different lengths, greedy ids:"
./build/dsv3 generate --model "$model" --tokens "5,9,13;100,200;7,8,9,10,11" --max-new-tokens 8 --temperature 0 --ids
