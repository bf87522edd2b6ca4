#!/usr/bin/env bash
# One training run at the default model's shape and schedule, the runs of docs/ADAPTIVE.md share it:
# L 6, d 128, H 4, n_ctx 256, taps 2,4, m = 128, batch 16, lr 2e-3 -> 2e-4, dropout 0, seed 1337.
# Usage: scripts/train-default-shape.sh OUT STEPS [extra train flags, e.g. --exit-depths 2,4]
# DATA and SEED (environment) override the corpus and the seed; TRAINER (environment) runs a prebuilt trainer instead of `dotnet run`
# (e.g. TRAINER="dotnet /tmp/trainer/EdgeShortcut.Trainer.dll"), so that a queue of runs survives edits to src/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1; STEPS=$2; shift 2
DATA=${DATA:-../shared/data/tinyshakespeare.txt}
${TRAINER:-dotnet run --project src/Trainer -c Release --} train --data "$DATA" --out "$OUT" --arch shortcut --layers 6 --dim 128 --heads 4 \
  --context 256 --taps 2,4 --feature-dim 128 --batch 16 --steps "$STEPS" --eval-every 250 --lr 0.002 --min-lr 0.0002 --warmup 100 \
  --dropout 0 --seed "${SEED:-1337}" "$@"
