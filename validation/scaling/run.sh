#!/usr/bin/env bash
# The n-scaling study on this machine's CPU: six (p, r) points, two seeds, n = 256, 512, 1024 (more n
# is added by later pieces). Resumable: rerun this script, it passes --resume once a run exists.
# The checkpoints (cpu/runs/*/checkpoint*) are not committed; each finished group's measured rows
# (cpu/runs/*/measured.json) and loss curve are, so a fresh clone redoes only unfinished groups.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=validation/scaling/cpu
resume=()
[ -e "$out/results.json" ] || [ -d "$out/runs" ] && resume=(--resume)
exec python -m rugtheory validate --n 256,512,1024 \
    --points 0.01:0.25 0.1:0.25 0.03:0.3 0.01:0.1 0.01:0.5 0.1:0.5 --seeds 0,1 \
    --kernel sparse --device cpu --no-progress --out "$out" "${resume[@]}"
