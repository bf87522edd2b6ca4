#!/usr/bin/python3
"""Train a shortcut GPT with PyTorch DDP; see docs/DISTRIBUTED.md.

    torchrun --standalone --nproc_per_node 2 python/train.py --data TEXT --out DIR --steps 2000
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edgeshortcut.entry import train_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(train_main(sys.argv[1:]))
