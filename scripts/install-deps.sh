#!/usr/bin/env bash
# Installs the Debian packages dsv3 builds and tests with, if any are missing.
set -euo pipefail
packages=(
  cmake g++ make pkg-config
  nlohmann-json3-dev     # JSON: config.json, safetensors headers, tokenizer.json, HTTP bodies
  libpcre2-dev           # Unicode regex of the BPE pre-tokenizer
  libcpp-httplib-dev     # HTTP server of `dsv3 serve`
  libgtest-dev           # unit tests
  libbenchmark-dev       # benchmark programs
  libopenmpi-dev openmpi-bin  # MPI backend of src/dist: mpirun across processes and machines
  clang libclang-rt-14-dev libomp-14-dev  # libFuzzer targets (clang's OpenMP too)
)
# Node and npm run the openai-client and load tests of `dsv3 serve` (Debian's, only if absent).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
