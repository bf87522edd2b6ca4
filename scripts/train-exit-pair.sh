#!/usr/bin/env bash
# Issue 10: the default model's shape trained with and without the exit recipe (same data, seed and
# schedule), for the "+1% NLL at full depth" bound and the adaptive-depth measurements.
# Usage: scripts/train-exit-pair.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}
scripts/train-default-shape.sh runs/exit-recipe "$STEPS" --exit-depths 2,4
scripts/train-default-shape.sh runs/exit-none "$STEPS"
