"""Scaled dot-product attention with a boolean mask (True = visible), dropout on the probabilities.

PyTorch >= 2.0 has F.scaled_dot_product_attention; Debian 12's torch 1.13 does not, so the same math
is written out there: softmax(q k^T / sqrt(hd) masked) v. Shapes: q [B, H, Tq, hd], k and v
[B, H, Tk, hd], mask broadcastable to [B, H, Tq, Tk]; every query row must see at least one key.
"""
import math

import torch
import torch.nn.functional as F

_HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def causal_mask(t, device=None):
    """[T, T] bool: query t sees key u iff u <= t."""
    return torch.ones(t, t, dtype=torch.bool, device=device).tril()


def attend(q, k, v, mask, dropout_p=0.0):
    """Returns o [B, H, Tq, hd]."""
    if _HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])          # [B, H, Tq, Tk]
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = scores.softmax(-1)
    if dropout_p > 0:
        probs = F.dropout(probs, dropout_p, True)
    return probs @ v
