#!/usr/bin/env bash
# On a GPU node (or in the GPU worker image), in under 5 minutes: loads the GPU backend, trains
# 200 updates of each model kind on it and on wasm, prints samples/s and the parity of the first
# 20 losses, and exits non-zero on any mismatch or if the GPU backend does not load.
#   scripts/gpu-check.sh            (LRSWEEP_GPU_CHECK_BACKEND=tensorflow checks the CPU build instead)
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/gpu-check.ts "$@"
