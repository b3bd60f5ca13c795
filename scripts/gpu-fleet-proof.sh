#!/usr/bin/env bash
# The GPU fleet proof: carry the bundle that includes Node (`pnpm bundle --with-node`) and this
# script to a GPU machine that has Python with CUDA PyTorch and nothing else of lrsweep's (no Node,
# Postgres or Redis), then
#
#   bash gpu-fleet-proof.sh lrsweep-<version>-linux-x64-node.tar.xz [--agents N] [--device auto|cuda|cpu] [--steps N]
#
# It unpacks the bundle (into LRSWEEP_PROOF_DIR, default ./lrsweep-proof; it must be a directory
# the user 'postgres' can read when run as root), starts lrsweep from it on its embedded Postgres
# and Redis, runs a small sweep with the PyTorch example agent on CUDA when PyTorch sees a GPU
# (CPU otherwise), kills one agent with SIGKILL mid-trial, and prints the device, the throughput
# and the exactly-once summary. PYTHON names the Python with PyTorch (default python3).
# Exit status 0 only when every exactly-once check passed.
set -euo pipefail

bundle=${1:-}
if [[ -z "$bundle" || "$bundle" == --* ]]; then
  echo "usage: $0 <lrsweep-…-node.tar.xz> [--agents N] [--device auto|cuda|cpu] [--steps N]" >&2
  exit 2
fi
shift
if [[ ! -f "$bundle" ]]; then
  echo "✗ no bundle at $bundle (build it with: pnpm bundle --with-node)" >&2
  exit 2
fi
dir=${LRSWEEP_PROOF_DIR:-$PWD/lrsweep-proof}
rm -rf "$dir"
mkdir -p "$dir"
echo "unpacking $(basename "$bundle") into $dir"
tar -xJf "$bundle" -C "$dir" --strip-components=1
if [[ ! -x "$dir/node/bin/node" ]]; then
  echo "✗ $bundle carries no Node: build it with pnpm bundle --with-node" >&2
  exit 2
fi
exec "$dir/node/bin/node" "$dir/lrsweep.mjs" proof --python "${PYTHON:-python3}" "$@"
