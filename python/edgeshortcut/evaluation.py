"""Held-out NLL on fixed, non-overlapping windows (docs/FORMAT.md section 6), as
`src/Trainer/Training/Evaluation.cs`: with T = n_ctx and N tokens, window w has inputs
tokens[w*T .. w*T+T) and targets shifted by one, w = 0..floor((N-1)/T)-1; the tail is dropped.
"""
import math

import torch
import torch.nn.functional as F


def window_count(corpus, context):
    return (len(corpus) - 1) // context


def nll_sum(model, corpus, batch, windows):
    """Sum of next-token NLL (float64, nats) over the given window indices, in eval mode without
    gradients (the model's mode is restored). Used whole by eval.py and per rank by the trainer."""
    c = model.config
    t, v = c.n_ctx, c.vocab_size
    tokens = torch.from_numpy(corpus.tokens[: (window_count(corpus, t)) * t + 1].astype("int64"))
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for i in range(0, len(windows), batch):
                ws = windows[i:i + batch]
                x = torch.stack([tokens[w * t:w * t + t] for w in ws])
                y = torch.stack([tokens[w * t + 1:w * t + t + 1] for w in ws])
                total += float(F.cross_entropy(model(x).view(-1, v), y.view(-1), reduction="sum").double())
    finally:
        model.train(was_training)
    return total


def mean_nll(model, corpus, batch=16):
    """{"val_nll", "val_bpb", "tokens", "windows"} of a whole corpus on one process."""
    t = model.config.n_ctx
    corpus.require_window(t, "evaluation")
    w = window_count(corpus, t)
    nll = nll_sum(model, corpus, batch, list(range(w))) / (w * t)
    return {"val_nll": nll, "val_bpb": nll / math.log(2), "tokens": w * t, "windows": w}
