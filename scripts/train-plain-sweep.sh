#!/usr/bin/env bash
# Issue 10: plain GPTs of several depths at the default model's width, data, seed and schedule (the
# baselines of docs/ADAPTIVE.md's NLL-vs-speed comparison). Usage: scripts/train-plain-sweep.sh [STEPS] [DEPTHS...]
# TRAINER and SEED (environment): a prebuilt trainer (see train-default-shape.sh) and the seed (default 1337;
# another seed writes runs/plain-L<L>-s<SEED>).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}; shift || true
DEPTHS=${*:-3 4 5}
DATA=../shared/data/tinyshakespeare.txt
SEED=${SEED:-1337}
SUFFIX=$([ "$SEED" = 1337 ] || echo "-s$SEED")
for L in $DEPTHS; do
  ${TRAINER:-dotnet run --project src/Trainer -c Release --} train --data "$DATA" --arch baseline --layers "$L" --dim 128 --heads 4 --context 256 \
    --batch 16 --steps "$STEPS" --eval-every 250 --lr 0.002 --min-lr 0.0002 --warmup 100 --dropout 0 --seed "$SEED" --out "runs/plain-L$L$SUFFIX"
done
