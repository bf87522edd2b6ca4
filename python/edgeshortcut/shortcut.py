"""The paper's novel piece: the final block's attention over the memory of all tapped features.

    memory[e] = z_j[tau],  e = tau * |S| + j                    (position-major, [B, T*|S|, d])
    q = LN_q(x) Wq^T + bq  [B, T, d];   k | v = memory Wkv^T + bkv  [B, T*|S|, 2d]
    per head: o_h[t] = sum over visible e of softmax_e(q_h[t] . k_h[e] / sqrt(hd)) v_h[e]
    h = x + proj(concat_h o_h);  h = h + MLP(LN2(h))

Query t sees entry e iff tau(e) <= t (block-causal). An exit at trunk depth e also hides taps deeper
than e; per-token depths hide what a shallow token never computed (docs/FORMAT.md section 4, "Exits").
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attend
from .layers import Mlp


def block_causal_mask(t, taps_count, device=None):
    """[T, T*|S|] bool: query t sees entry e iff e // |S| <= t."""
    tau = torch.arange(t * taps_count, device=device) // taps_count
    return tau[None, :] <= torch.arange(t, device=device)[:, None]


def exit_mask(t, taps, exit_depth, device=None):
    """[T, T*|S|]: tau <= t and taps[e % |S|] <= exit_depth. At L-1 it is the block-causal mask."""
    tap_visible = torch.tensor([k <= exit_depth for k in taps], device=device).repeat(t)    # [T*|S|]
    return block_causal_mask(t, len(taps), device) & tap_visible[None, :]


def token_exit_mask(depths, taps, exit_depth):
    """[B, T, T*|S|] for per-token depths d [B, T] (int64): query t sees entry (tau, j) iff tau <= t,
    taps[j] <= min(exit_depth, d_t) and taps[j] <= d_tau (the entry exists)."""
    t, s = depths.shape[1], len(taps)
    tap_of = torch.tensor(taps, dtype=torch.long, device=depths.device).repeat(t)            # [T*S]
    exists = tap_of[None, :] <= depths.repeat_interleave(s, dim=1)                            # [B, T*S]
    seen = tap_of.view(1, 1, -1) <= depths.clamp(max=exit_depth).unsqueeze(-1)                # [B, T, T*S]
    causal = block_causal_mask(t, s, depths.device).unsqueeze(0)                             # [1, T, T*S]
    return causal & exists.unsqueeze(1) & seen


class ShortcutAttention(nn.Module):
    """Keys q.weight [d, d], q.bias, kv.weight [2d, d] (rows k then v), kv.bias, proj.weight [d, d], proj.bias."""

    def __init__(self, d, heads, dropout):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.heads, self.dropout = heads, dropout

    def forward(self, x, memory, mask):
        """x [B, Tq, d] (normed queries), memory [B, N, d], mask [Tq, N] or [B, 1, Tq, N] -> [B, Tq, d]."""
        b, t, d = x.shape
        n, hd = memory.shape[1], d // self.heads
        q = self.q(x).view(b, t, self.heads, hd).transpose(1, 2)                           # [B, H, Tq, hd]
        k, v = self.kv(memory).view(b, n, 2, self.heads, hd).permute(2, 0, 3, 1, 4)       # each [B, H, N, hd]
        o = attend(q, k, v, mask, self.dropout if self.training else 0.0)
        return self.proj(o.transpose(1, 2).reshape(b, t, d))


class ShortcutBlock(nn.Module):
    """The final block. Keys under `shortcut`: ln_q, attn.q, attn.kv, attn.proj, ln2, mlp.fc, mlp.proj."""

    def __init__(self, c, dropout):
        super().__init__()
        self.ln_q = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.attn = ShortcutAttention(c.d_model, c.n_head, dropout)
        self.ln2 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.mlp = Mlp(c.d_model, c.d_ff)
        self.dropout = dropout

    def forward(self, x, memory, mask):
        h = x + F.dropout(self.attn(self.ln_q(x), memory, mask), self.dropout, self.training)
        return h + F.dropout(self.mlp(self.ln2(h)), self.dropout, self.training)
