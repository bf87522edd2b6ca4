#!/usr/bin/python3
"""Issue 10: which confidence signal should decide an early exit? An offline comparison.

For every held-out position (non-overlapping n_ctx windows from the start of the trainer's split), one
teacher-forced forward gives the NLL at the exit depth e and at full depth, and each candidate signal is
computed at e. A signal ranks the positions by confidence; exiting the top fraction f at e and running the
rest to full depth gives NLL(f) = mean(exit ? nll_e : nll_full). The better signal has the lower curve.
Bounds: `random` (no signal) and `oracle` (ranked by nll_full - nll_e, unattainable).

Signals at depth e:
  max_prob    top-1 probability of the exit head (what DepthPolicy.Adaptive uses)
  margin      top-1 minus top-2 probability
  neg_entropy minus the entropy of the exit head's distribution
  state_calm  minus the relative change of the residual stream in the last block, ||x_e - x_{e-1}|| / ||x_e||
              (needs no exit head at all: the cheapest signal, if it ranked well)
  probe       a tiny trained probe: ridge regression from [x_e, x_e - x_{e-1}, the four signals above] to
              nll_full - nll_e, fitted on positions of the training split (never the held-out ones)
  probe_states the same probe from [x_e, x_e - x_{e-1}] only (no exit head needed to decide)

Approximation, stated: the forward is one full-sequence pass, so later positions see every earlier
position's keys at every depth; under Adaptive an exited token's deeper keys are hidden. The model trained
with per-token skipping sees both in training, so the ranking of signals is what this measures, not the
exact NLL of an Adaptive run (the console's `eval` measures that).

Usage (Debian's Python, which has torch):
  /usr/bin/python3 python/exit_signals.py --checkpoint runs/exit-token/best \
      --data ../shared/data/tinyshakespeare.txt [--exit 2] [--positions 20480] [--json]
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edgeshortcut.checkpoint import load_model  # noqa: E402
from edgeshortcut.data import TokenCorpus  # noqa: E402
from edgeshortcut.evaluation import window_count  # noqa: E402

FRACTIONS = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def per_position(model, ids, targets, exit_depth):
    """nll at exit and at full depth, and every signal, for one batch of windows [B, T]; all [B*T]."""
    with torch.no_grad():
        (exit_logits, full_logits), states = model.exit_logits(ids, [exit_depth, model.config.n_layer - 1])
    nll = lambda logits: F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    p = torch.softmax(exit_logits.reshape(-1, exit_logits.shape[-1]).double(), dim=-1)
    top2 = p.topk(2, dim=-1).values
    d = states[0].shape[-1]
    x_e, x_prev = states[exit_depth].reshape(-1, d), states[exit_depth - 1].reshape(-1, d)   # [B*T, d]
    change = (x_e - x_prev).norm(dim=-1) / x_e.norm(dim=-1).clamp_min(1e-12)
    signals = {
        "max_prob": top2[:, 0],
        "margin": top2[:, 0] - top2[:, 1],
        "neg_entropy": (p * p.clamp_min(1e-300).log()).sum(-1),
        "state_calm": -change.double(),
    }
    features = torch.cat([x_e, x_e - x_prev], dim=-1).double()
    return nll(exit_logits).double(), nll(full_logits).double(), signals, features


def positions_of(model, corpus, count, exit_depth):
    """(nll_exit, nll_full, signals, features) over the first `count` positions of `corpus` in n_ctx windows."""
    n = model.config.n_ctx
    tokens = torch.from_numpy(corpus.tokens.astype("int64"))
    windows = min(count // n, window_count(corpus, n))
    if windows < 1:
        sys.exit(f"error: {count} positions is less than one window of {n}")
    parts = []
    for w0 in range(0, windows, 8):
        rows = range(w0, min(windows, w0 + 8))
        ids = torch.stack([tokens[r * n:(r + 1) * n] for r in rows])
        targets = torch.stack([tokens[r * n + 1:(r + 1) * n + 1] for r in rows])
        parts.append(per_position(model, ids, targets, exit_depth))
    signals = {k: torch.cat([p[2][k] for p in parts]) for k in parts[0][2]}
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), signals, torch.cat([p[3] for p in parts])


def probe_inputs(signals, features):
    """[N, 2d + 4]: the states and the four signals."""
    return torch.cat([features, torch.stack([signals[k] for k in ("max_prob", "margin", "neg_entropy", "state_calm")], dim=-1)], dim=-1)


def fit_probe(inputs, target, ridge=1e-2):
    """Standardized ridge regression; returns a function of new inputs."""
    mean, std = inputs.mean(0), inputs.std(0).clamp_min(1e-9)
    z = torch.cat([(inputs - mean) / std, torch.ones(len(inputs), 1, dtype=inputs.dtype)], dim=-1)
    w = torch.linalg.solve(z.T @ z + ridge * len(z) * torch.eye(z.shape[1], dtype=z.dtype), z.T @ target)
    return lambda x: torch.cat([(x - mean) / std, torch.ones(len(x), 1, dtype=x.dtype)], dim=-1) @ w


def curve(score, nll_exit, nll_full):
    """NLL (nats/token) when the top fraction f of positions by score exits early, for each f in FRACTIONS."""
    order = torch.argsort(score, descending=True)
    gain = (nll_exit - nll_full)[order]                      # what exiting each ranked position costs
    cumulative = torch.cat([torch.zeros(1, dtype=gain.dtype), gain.cumsum(0)])
    n, base = len(order), nll_full.mean().item()
    return [base + cumulative[round(f * n)].item() / n for f in FRACTIONS]


def main():
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--checkpoint", required=True)
    a.add_argument("--data", required=True)
    a.add_argument("--exit", type=int, default=None, help="exit depth (default: the model's shallowest trained exit)")
    a.add_argument("--positions", type=int, default=20480)
    a.add_argument("--json", action="store_true")
    args = a.parse_args()
    torch.manual_seed(0)
    model, tokenizer = load_model(args.checkpoint)
    c = model.config
    if model.shortcut is None:
        sys.exit("error: a plain GPT has no exit head to compare signals on")
    exit_depth = args.exit if args.exit is not None else (min(c.exit_depths) if c.exit_depths else c.taps[0])
    train, held_out = TokenCorpus.load(args.data, tokenizer).split_last_tenth()
    nll_exit, nll_full, signals, features = positions_of(model, held_out, args.positions, exit_depth)
    # The probe learns from the start of the training split, as many positions as are scored.
    t_exit, t_full, t_signals, t_features = positions_of(model, train, args.positions, exit_depth)
    probe = fit_probe(probe_inputs(t_signals, t_features), t_full - t_exit)
    signals["probe"] = probe(probe_inputs(signals, features))
    states_probe = fit_probe(t_features, t_full - t_exit)
    signals["probe_states"] = states_probe(features)
    signals["random"] = torch.rand(len(nll_full), dtype=torch.float64)
    signals["oracle"] = nll_full - nll_exit
    full = nll_full.mean().item()
    rows = {name: curve(s, nll_exit, nll_full) for name, s in signals.items()}
    print(f"{args.checkpoint}: exit depth {exit_depth}, {len(nll_full)} positions, full depth {full:.5f} nats/token, "
          f"all at exit {nll_exit.mean().item():.5f} ({100 * (nll_exit.mean().item() / full - 1):+.2f}%)")
    print("| signal | " + " | ".join(f"{int(f * 100)}% exit" for f in FRACTIONS) + " |")
    print("|---|" + "---|" * len(FRACTIONS))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{100 * (v / full - 1):+.2f}%" for v in values) + " |")
    if args.json:
        print(json.dumps({"checkpoint": args.checkpoint, "exit": exit_depth, "positions": len(nll_full), "full_nll": full,
                          "fractions": FRACTIONS, "nll": rows}))


if __name__ == "__main__":
    main()
