"""The ordinary pieces of the model (docs/FORMAT.md sections 3-4): the MLP, causal self-attention,
the pre-LN GPT-2 block and the tapped layers' feature MLP. Attribute names are the checkpoint keys.
"""
import torch.nn as nn
import torch.nn.functional as F

from .attention import attend, causal_mask


class Mlp(nn.Module):
    """proj(GELU(fc(x))) with exact (erf) GELU. Keys fc.weight [hidden, d], fc.bias, proj.weight [d, hidden], proj.bias."""

    def __init__(self, d, hidden):
        super().__init__()
        self.fc = nn.Linear(d, hidden)
        self.proj = nn.Linear(hidden, d)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class SelfAttention(nn.Module):
    """Multi-head self-attention; qkv rows are q, k, v with heads contiguous inside each.
    Keys qkv.weight [3d, d], qkv.bias [3d], proj.weight [d, d], proj.bias [d]."""

    def __init__(self, d, heads, dropout):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.heads, self.dropout = heads, dropout

    def forward(self, x, mask=None):
        """x [B, T, d] (layer-normed) -> [B, T, d]; mask None = causal, else bool [B, 1, T, T]."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)   # each [B, H, T, hd]
        o = attend(q, k, v, causal_mask(t, x.device) if mask is None else mask, self.dropout if self.training else 0.0)
        return self.proj(o.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """x = x + Drop(Attn(LN1(x))); x = x + Drop(MLP(LN2(x))). Keys ln1, attn.qkv, attn.proj, ln2, mlp.fc, mlp.proj."""

    def __init__(self, c, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.attn = SelfAttention(c.d_model, c.n_head, dropout)
        self.ln2 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.mlp = Mlp(c.d_model, c.d_ff)
        self.dropout = dropout

    def forward(self, x, mask=None):
        x = x + F.dropout(self.attn(self.ln1(x), mask), self.dropout, self.training)
        return x + F.dropout(self.mlp(self.ln2(x)), self.dropout, self.training)


class FeatureMlp(nn.Module):
    """z_k = proj(GELU(fc(LN(x_k)))) of one tapped layer. Keys ln [d], fc [m, d], proj [d, m]."""

    def __init__(self, c):
        super().__init__()
        self.ln = nn.LayerNorm(c.d_model, eps=c.ln_eps)
        self.fc = nn.Linear(c.d_model, c.d_feature)
        self.proj = nn.Linear(c.d_feature, c.d_model)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(self.ln(x))))
