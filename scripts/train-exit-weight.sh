#!/usr/bin/env bash
# Issue 10: the exit recipe with a lighter exit loss weight (same shape, data, seed and schedule as
# scripts/train-exit-pair.sh). Usage: scripts/train-exit-weight.sh [STEPS] [WEIGHT] [DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}
W=${2:-0.3}
DATA=${3:-../shared/data/tinyshakespeare.txt}
dotnet run --project src/Trainer -c Release -- train --data "$DATA" --arch shortcut --layers 6 --dim 128 --heads 4 --context 256 \
  --taps 2,4 --feature-dim 128 --batch 16 --steps "$STEPS" --eval-every 250 --lr 0.002 --min-lr 0.0002 --warmup 100 --dropout 0 \
  --seed 1337 --out "runs/exit-w$W" --exit-depths 2,4 --exit-loss-weight "$W"
