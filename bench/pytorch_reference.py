#!/usr/bin/python3
"""PyTorch eager twin of the TorchSharp ShortcutGpt (docs/FORMAT.md section 4), for two checks.
The model is python/edgeshortcut's (the one Python copy, also used by python/train.py):

  bench   training tokens/s of the same model, same step (AdamW, clip, dropout), same threads:
          /usr/bin/python3 bench/pytorch_reference.py bench --sizes 128x6,256x8 --threads 2
  parity  load a checkpoint directory and print logits sums (full depth and every exit of the
          recipe) for a fixed id sequence, and optionally val_nll with the trainer's eval windows:
          /usr/bin/python3 bench/pytorch_reference.py parity --checkpoint runs/x/last [--data TEXT]

Needs Debian's python3-torch and python3-numpy (call /usr/bin/python3 explicitly).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from edgeshortcut import checkpoint, evaluation  # noqa: E402
from edgeshortcut.config import ModelConfig  # noqa: E402
from edgeshortcut.data import TokenCorpus  # noqa: E402
from edgeshortcut.model import ShortcutGpt  # noqa: E402
from edgeshortcut.optimizer import create_optimizer  # noqa: E402


def bench(args):
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__} eager, threads {args.threads}, context {args.context}, batch {args.batch}, "
          f"median of {args.steps} steps after {args.warmup_steps} warm-up")
    print("| size | arch | ms/step | tokens/s |")
    print("|---|---|---|---|")
    for size in args.sizes.split(","):
        dim, layers = map(int, size.split("x"))
        for shortcut in (False, True):
            torch.manual_seed(0)
            model = ShortcutGpt(ModelConfig.create(layers, dim, args.heads, args.context, shortcut=shortcut), args.dropout).train()
            opt = create_optimizer(model, 1e-4, 0.1)
            times = []
            for s in range(args.warmup_steps + args.steps):
                x = torch.randint(0, 256, (args.batch, args.context))
                y = torch.randint(0, 256, (args.batch * args.context,))
                t0 = time.perf_counter()
                loss = F.cross_entropy(model(x).view(-1, 256), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                loss.item()
                if s >= args.warmup_steps:
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"| d{dim}/L{layers} | {'shortcut' if shortcut else 'baseline'} | {med * 1000:.0f} | {args.batch * args.context / med:.0f} |")


def parity(args):
    model, tokenizer = checkpoint.load_model(args.checkpoint)
    c = model.config
    ids = torch.tensor([[(7 * i + 3) % c.vocab_size for i in range(min(c.n_ctx, args.length))]])
    with torch.no_grad():
        result = {"logits_sum": float(model(ids)[0].double().sum())}
        if c.exit_depths:   # every exit of the recipe (docs/FORMAT.md section 4)
            logits = model(ids, list(c.exit_depths))
            result["exit_logits_sum"] = {str(e): float(l[0].double().sum()) for e, l in zip(c.exit_depths, logits)}
        else:
            result["exit_logits_sum"] = {}
    if args.data:   # same windows as `eval --data FILE` (docs/FORMAT.md section 6)
        result["val_nll"] = evaluation.mean_nll(model, TokenCorpus.load(args.data, tokenizer))["val_nll"]
    print(json.dumps(result))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--sizes", default="128x6,256x8")
    b.add_argument("--heads", type=int, default=4)
    b.add_argument("--context", type=int, default=256)
    b.add_argument("--batch", type=int, default=16)
    b.add_argument("--warmup-steps", type=int, default=2)
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--dropout", type=float, default=0.1)
    p = sub.add_parser("parity")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--data", help="byte corpus to evaluate with the same windows as the trainer's eval --data")
    a = ap.parse_args()
    bench(a) if a.cmd == "bench" else parity(a)
