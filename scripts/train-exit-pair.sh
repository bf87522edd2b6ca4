#!/usr/bin/env bash
# Issue 10: the default model's shape trained with and without the exit recipe (same data, seed and
# schedule), for the "+1% NLL at full depth" bound and the adaptive-depth measurements.
# Usage: scripts/train-exit-pair.sh [STEPS] [DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}
DATA=${2:-../shared/data/tinyshakespeare.txt}
COMMON=(--data "$DATA" --arch shortcut --layers 6 --dim 128 --heads 4 --context 256 --taps 2,4 --feature-dim 128
        --batch 16 --steps "$STEPS" --eval-every 250 --lr 0.002 --min-lr 0.0002 --warmup 100 --dropout 0 --seed 1337)
dotnet build src/Trainer -c Release -v q
dotnet run --no-build --project src/Trainer -c Release -- train "${COMMON[@]}" --out runs/exit-recipe --exit-depths 2,4
dotnet run --no-build --project src/Trainer -c Release -- train "${COMMON[@]}" --out runs/exit-none
