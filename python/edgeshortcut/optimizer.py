"""The C# trainer's optimizer and schedule (src/Trainer/Training/Trainer.cs, LearningRateSchedule.cs).

AdamW, betas (0.9, 0.95), eps 1e-8, decoupled weight decay on parameters with 2+ dimensions (linear
weights and embeddings) only; linear warm-up to the peak rate, then cosine decay to the minimum.
"""
import math

import torch

BETAS = (0.9, 0.95)
EPS = 1e-8


def create_optimizer(model, lr, weight_decay):
    """Group 0: parameters with 2+ dimensions (decay); group 1: biases and LayerNorm gains (no decay).
    Both in the model's parameter order (docs/FORMAT.md section 3)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    # initial_lr: the peak rate, which TorchSharp records per group in optimizer.bin.
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay, "initial_lr": lr},
                              {"params": rest, "weight_decay": 0.0, "initial_lr": lr}], lr=lr, betas=BETAS, eps=EPS)


def learning_rate(step, total_steps, lr, min_lr, warmup):
    """0-based step: lr*(step+1)/warmup during warm-up, then min + (lr - min)(1 + cos(pi p))/2, with p
    going from 0 to 1 over the remaining steps."""
    if step < warmup:
        return lr * (step + 1) / warmup
    decay_steps = max(1, total_steps - warmup - 1)
    p = min(max((step - warmup) / decay_steps, 0.0), 1.0)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))
