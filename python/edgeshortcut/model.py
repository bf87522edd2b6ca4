"""The shortcut GPT of PAPER.md / docs/FORMAT.md section 4 and, with no taps, the plain GPT baseline.

The one Python copy of the model (the trainer, eval.py and bench/pytorch_reference.py use it). It
mirrors `src/Trainer/Model/ShortcutGpt.cs`: the same parameter names and order (tensor_names.py),
the same GPT-2 initialisation, exits and per-token exits.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import causal_mask
from .layers import Block, FeatureMlp
from .shortcut import ShortcutBlock, exit_mask, token_exit_mask
from .tensor_names import tensor_names


class ShortcutGpt(nn.Module):
    """ids [B, T] (int64, T <= n_ctx) -> logits [B, T, V]. Dropout acts in training mode only."""

    def __init__(self, config, dropout=0.0, scaled_feature_init=False):
        super().__init__()
        c = self.config = config.validate()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = dropout
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.n_ctx, c.d_model)
        self.blocks = nn.ModuleList([Block(c, dropout) for _ in range(c.self_attention_blocks)])
        self.features = nn.ModuleList([FeatureMlp(c) for _ in c.taps])
        self.shortcut = ShortcutBlock(c, dropout) if c.is_shortcut else None
        self.ln_f = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.head = None if c.tied_embeddings else nn.Linear(c.d_model, c.vocab_size, bias=False)
        self._feature_of_block = {k - 1: j for j, k in enumerate(c.taps)}     # block index -> feature j
        names = [n for n, _ in self.named_parameters()]
        expected = [n for n, _ in tensor_names(c)]
        assert names == expected, f"parameter order differs from docs/FORMAT.md: {names} vs {expected}"
        self._initialize(scaled_feature_init)

    def _initialize(self, scaled_feature_init):
        """GPT-2 init, as the C# trainer: weights N(0, 0.02); every attn.proj/mlp.proj (and, with
        scaled_feature_init, features.*.proj) N(0, 0.02/sqrt(2L)); biases 0; LayerNorm gains 1."""
        residual_std = 0.02 / math.sqrt(2.0 * self.config.n_layer)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".bias"):
                    p.zero_()
                elif p.dim() == 1:
                    p.fill_(1.0)
                elif name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                    nn.init.normal_(p, 0.0, residual_std)
                elif scaled_feature_init and name.startswith("features.") and name.endswith(".proj.weight"):
                    nn.init.normal_(p, 0.0, residual_std)
                else:
                    nn.init.normal_(p, 0.0, 0.02)

    def forward(self, ids, exits=None, depths=None):
        """Without exits: logits [B, T, V] of the full model. With exits (a list of trunk depths, each
        in taps[0]..L-1): a list of logits [B, T, V], one per exit, from one trunk run. With per-token
        depths [B, T] (int64, each in taps[0]..L-1) as well: token t runs blocks 1..d_t only."""
        if exits is None:
            h, memory, _ = self._trunk(ids)
            if self.shortcut is not None:
                h = self.shortcut(h, memory, exit_mask(ids.shape[1], self.config.taps, self.config.n_layer - 1, ids.device))
            return self._logits(h)
        return self.exit_logits(ids, exits, depths)[0]

    def exit_logits(self, ids, exits, depths=None):
        """As forward with exits, also returning the trunk's states x_0..x_B (each [B, T, d]) of the same run:
        (list of logits [B, T, V], one per exit; states)."""
        c = self.config
        if self.shortcut is None:
            raise ValueError("The baseline model (no taps) has no shortcut block to exit through.")
        for e in exits:
            if not c.taps[0] <= e <= c.n_layer - 1:
                raise ValueError(f"an exit depth must be in {c.taps[0]}..{c.n_layer - 1}, got {e}")
        t = ids.shape[1]
        _, memory, states = self._trunk(ids, depths)
        queries = torch.cat([states[e] for e in exits], dim=1)                                   # [B, nE*T, d]
        if depths is None:
            mask = torch.cat([exit_mask(t, c.taps, e, ids.device) for e in exits], dim=0)         # [nE*T, T*S]
        else:
            mask = torch.cat([token_exit_mask(depths, c.taps, e) for e in exits], dim=1).unsqueeze(1)   # [B, 1, nE*T, T*S]
        return list(self._logits(self.shortcut(queries, memory, mask)).split(t, dim=1)), states

    def _trunk(self, ids, depths=None):
        """Embeddings, ordinary blocks and features. Returns the last block's output [B, T, d], the
        memory [B, T*|S|, d] (None for the baseline) and the states x_0..x_B. With depths, block l
        leaves x_t unchanged where l > d_t and hides the keys of such tokens from other queries."""
        c = self.config
        b, t = ids.shape
        if not 1 <= t <= c.n_ctx:
            raise ValueError(f"sequence length {t} must be in 1..n_ctx ({c.n_ctx})")
        x = F.dropout(self.tok_emb(ids) + self.pos_emb(torch.arange(t, device=ids.device)), self.dropout, self.training)
        min_depth = int(depths.min()) if depths is not None else None
        states, tapped = [x], []
        for i, block in enumerate(self.blocks):
            layer = i + 1
            if depths is None or layer <= min_depth:
                x = block(x)
            else:
                x = torch.where((depths >= layer).unsqueeze(-1), block(x, token_exit_key_mask(depths, layer)), x)
            states.append(x)
            if i in self._feature_of_block:
                tapped.append(self.features[self._feature_of_block[i]](x))                     # z_j [B, T, d]
        if self.shortcut is None:
            return x, None, states
        memory = torch.stack(tapped, dim=2).reshape(b, t * len(c.taps), c.d_model)           # e = tau*|S| + j
        return x, memory, states

    def _logits(self, h):
        """LN_f(h) W_out^T, W_out = tok_emb.weight (tied) or head.weight; no bias."""
        return F.linear(self.ln_f(h), self.tok_emb.weight if self.head is None else self.head.weight)


def token_exit_key_mask(depths, block):
    """[B, 1, T, T] self-attention mask of trunk block `block` (1-based) under per-token depths [B, T]:
    query t sees key u iff u <= t and (block <= d_u or u = t)."""
    t = depths.shape[1]
    exists = depths >= block                                                                   # [B, T]
    self_key = torch.eye(t, dtype=torch.bool, device=depths.device)
    return (causal_mask(t, depths.device).unsqueeze(0) & (exists.unsqueeze(1) | self_key.unsqueeze(0))).unsqueeze(1)
