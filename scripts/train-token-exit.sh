#!/usr/bin/env bash
# Issue 10: the exit recipe with per-token skipping (--token-exit-rate) at the default shape.
# Usage: scripts/train-token-exit.sh [STEPS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/train-default-shape.sh runs/exit-token "${1:-1500}" --exit-depths 2,4 --token-exit-rate "${2:-0.5}"
