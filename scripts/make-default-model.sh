#!/usr/bin/env bash
# Reproduces models/default.onnx: trains the default shortcut GPT on tinyshakespeare, evaluates
# the fp32 checkpoint, exports int8 ONNX and validates it against the fp32 TorchSharp model.
# Taps layers 2 and 4 with feature width m = d: decode costs <= 1.2x an equal-depth GPT's (docs/BENCHMARKS.md).
# Takes ~65 min on 2 cores. Usage: scripts/make-default-model.sh [DATA] [RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/tinyshakespeare.txt}
RUN=${2:-runs/default}

dotnet run --project src/Trainer -c Release -- train --data "$DATA" --out "$RUN" \
  --arch shortcut --layers 6 --dim 128 --heads 4 --context 256 --taps 2,4 --feature-dim 128 --batch 16 --steps 3000 \
  --eval-every 250 --lr 0.002 --min-lr 0.0002 --warmup 100 --dropout 0.1 --seed 1337
dotnet run --project src/Trainer -c Release -- eval --checkpoint "$RUN/best" --json   # held-out: the last 10% of DATA
dotnet run --project src/Quantize -c Release -- --checkpoint "$RUN/best" --out models/default.onnx \
  --precision int8 --validate "$DATA" --json
