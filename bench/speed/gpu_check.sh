#!/usr/bin/env bash
# One prepared check for a GPU box: what the box has, then the speed of the GPU path (LoRA bf16 training
# tokens/s and model FLOP utilisation, evaluation rows/s) on a Qwen3-1.7B-shaped model with random weights,
# then a shorter run of the fp16 path that GPUs without bf16 take.
# Options go to bench/speed/gpu_check.py (--rows, --batch-size, --max-length). Never needed by the tests.
# Runs from a checkout without installing it: the package is read from workflow/scripts, and wheels in .whl/
# (bench/speed/device_wheels.sh, for a box with no package index) are installed first. The log and
# gpu_check.json go to $OUT, else results/gpu_check/.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
PY=${PYTHON:-python3}
out=${OUT:-results/gpu_check}
mkdir -p "$out"
{
  # Only where they are missing: installed elsewhere, the wheels (built for the box's Python) would
  # shadow the packages already there.
  if [ -d .whl ] && ! "$PY" -c "import snakemake.utils, openpyxl" 2>/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/focalcls-wheels .whl/*.whl
    export PYTHONPATH="/tmp/focalcls-wheels${PYTHONPATH:+:$PYTHONPATH}"
  elif ! "$PY" -c "import snakemake.utils, openpyxl" 2>/dev/null; then
    echo "$PY lacks snakemake or openpyxl: run bash bench/speed/device_wheels.sh where pip reaches an index and bring .whl/ along"
    exit 1
  fi
  export PYTHONPATH="$PWD/workflow/scripts${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TQDM_MININTERVAL=10
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi not found"
  "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))"
  "$PY" -m bench.speed.gpu_check --json "$out/gpu_check.json" "$@"
  # The fp16 path (auto's choice on GPUs without bf16: V100, T4), with the Trainer's loss scaling, shorter;
  # fp16 needs a GPU.
  if "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    "$PY" -m bench.speed.gpu_check --precision fp16 --rows 2048 --json "$out/gpu_check_fp16.json" "$@"
  fi
} 2>&1 | tee "$out/gpu_check.log"
