#!/usr/bin/env bash
# The GPU measurements of issue 13, for a session lent a GPU machine (the `device` tool runs this
# in the repository root, with $OUT for results). ROBER ensembles to t = 1e5 with radau5 and
# esdirk4 at rtol 1e-4, batches up to 131,072: f32 through wgpu (the machine's Vulkan driver)
# and f64 through CUDA, forward and with gradients, one JSON line per configuration
# (`stiffnode bench --ensemble`: per_trajectory_s, trajectory_steps_per_s, host_syncs,
# max_rel_err against the CPU engine on the same batch, forward_backward_s).
#
# Usage: scripts/gpu-check.sh [BINARY]. Without BINARY it builds stiffnode with the cuda feature
# (which downloads the LLVM bundle cubecl-cuda needs: the machine must reach the network, or
# carry a binary built where it can).
set -uo pipefail
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT"
BIN="${1:-}"
if [ -z "$BIN" ]; then
  cargo build --release --features cuda -p stiffnode 2>&1 | tail -3
  BIN="${CARGO_TARGET_DIR:-target}/release/stiffnode"
fi
(nvidia-smi || true) > "$OUT/nvidia-smi.txt" 2>&1
for device in wgpu cuda; do
  timeout 240 "$BIN" bench --ensemble --device "$device" --methods radau5,esdirk4 --rtols 1e-4 \
    --batches 1024,16384,131072 --repeats 3 >> "$OUT/ensemble-$device.jsonl" 2>> "$OUT/errors.txt"
  timeout 120 "$BIN" bench --ensemble --gradients --device "$device" --methods radau5 --rtols 1e-4 \
    --batches 16384 --repeats 1 >> "$OUT/ensemble-$device.jsonl" 2>> "$OUT/errors.txt"
done
cat "$OUT"/*.jsonl "$OUT/errors.txt"
