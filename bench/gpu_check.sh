#!/usr/bin/env bash
# One prepared check for a GPU box: what the box has, then the speed of the GPU path (LoRA bf16 training
# tokens/s and model FLOP utilisation, evaluation rows/s) on a Qwen3-1.7B-shaped model with random weights.
# Options go to bench/gpu_check.py (--rows, --batch-size, --max-length). Never needed by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi not found"
python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported())"
python bench/gpu_check.py "$@"
