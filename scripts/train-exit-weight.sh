#!/usr/bin/env bash
# Issue 10: the exit recipe with a lighter exit loss weight at the default shape.
# Usage: scripts/train-exit-weight.sh [STEPS] [WEIGHT]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${2:-0.3}
scripts/train-default-shape.sh "runs/exit-w$W" "${1:-1500}" --exit-depths 2,4 --exit-loss-weight "$W"
