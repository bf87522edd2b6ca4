#!/usr/bin/env bash
# Issue 10: the late exit recipe at the default shape: the plain objective for the first FROM steps (so far the run
# is exactly runs/exit-none), then exits {2,4} with per-token skipping (--token-exit-rate 0.5) to the end.
# Usage: scripts/train-late-exit.sh [STEPS] [FROM]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/train-default-shape.sh runs/exit-late "${1:-1500}" --exit-depths 2,4 --token-exit-rate 0.5 --exit-from-step "${2:-1000}"
