#!/usr/bin/env bash
# Issue 10: the default model's shape with the exit recipe and per-token skipping (--token-exit-rate),
# same data, seed and schedule as scripts/train-exit-pair.sh. Usage: scripts/train-token-exit.sh [STEPS] [RATE] [DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}
RATE=${2:-0.5}
DATA=${3:-../shared/data/tinyshakespeare.txt}
dotnet run --project src/Trainer -c Release -- train --data "$DATA" --arch shortcut --layers 6 --dim 128 --heads 4 --context 256 \
  --taps 2,4 --feature-dim 128 --batch 16 --steps "$STEPS" --eval-every 250 --lr 0.002 --min-lr 0.0002 --warmup 100 --dropout 0 \
  --seed 1337 --out runs/exit-token --exit-depths 2,4 --token-exit-rate "$RATE"
