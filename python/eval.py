#!/usr/bin/python3
"""Held-out NLL of a checkpoint, as `Trainer eval` computes it (docs/FORMAT.md section 6).

    /usr/bin/python3 python/eval.py --checkpoint DIR --data TEXT --json
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edgeshortcut.entry import eval_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(eval_main(sys.argv[1:]))
