#!/usr/bin/env bash
# The prepared GPU checks, one call on a lent device (about 8 minutes on one H100 or H200):
#   1. the CUDA tests (tests/test_cuda.py: the sparse step's gradients against autograd, a short
#      training run, exact_loss against numpy) and the torch exact-loss tests;
#   2. the large-n training-speed benchmark at n = 4096 and 8192 with achieved TFLOP/s against the
#      device's fp32 peak (67 TFLOP/s for the H100 SXM and the H200; TF32 off);
#   3. two n = 8192 points of the n-scaling study (validate --points), with the exact loss on 256 rows.
# Run from the repository root: `bash benchmarks/gpu_check.sh`. The device image has torch, scipy,
# sympy and mpmath, so PYTHONPATH=. is enough there. Everything lands under $OUT (the device tool's
# folder that comes back) or ./gpu_check_out; each step has its own time limit so one slow step
# cannot starve the others, and the script goes on after a failing step. A dry run of the plumbing
# on the CPU at small sizes: DEVICE=cpu SIZES="256 512" STUDY_N=256 STUDY_STEPS=200 bash benchmarks/gpu_check.sh
set -uo pipefail
device=${DEVICE:-cuda} sizes=${SIZES:-4096 8192} study_n=${STUDY_N:-8192} study_steps=${STUDY_STEPS:-20000}
out=${OUT:-gpu_check_out}
mkdir -p "$out"
export PYTHONPATH=. PYTHONUNBUFFERED=1
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $out/NAME.log, record the exit code
    local name=$1 limit=$2
    shift 2
    local started=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local code=$?
    echo "$name: exit $code in $((SECONDS - started)) s" | tee -a "$out/summary.txt"
}
{ nvidia-smi; python -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"; } \
    >"$out/device.txt" 2>&1
step tests 120 python -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_exact_torch.py
# shellcheck disable=SC2086  # $sizes is a list of sizes
step benchmark 150 python benchmarks/train_speed.py --sizes $sizes --device "$device" --peak-tflops 67 \
    --out "$out/train_speed_gpu.md"
step study 300 python -m rugtheory validate --n "$study_n" --points 0.01:0.25 0.1:0.5 --device "$device" \
    --steps "$study_steps" --exact-rows 256 --samples 10000 --no-progress --out "$out/study"
cp "$out/study/results.csv" "$out/study.csv" 2>/dev/null
cat "$out/summary.txt"
