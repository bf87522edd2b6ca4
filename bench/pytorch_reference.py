#!/usr/bin/python3
"""PyTorch eager twin of the TorchSharp ShortcutGpt (docs/FORMAT.md section 4), for two checks:

  bench   training tokens/s of the same model, same step (AdamW, clip, dropout), same threads:
          /usr/bin/python3 bench/pytorch_reference.py bench --sizes 128x6,256x8 --threads 2
  parity  load a checkpoint directory (standard safetensors, read with numpy) and print logits
          for a fixed id sequence, to compare with the TorchSharp model:
          /usr/bin/python3 bench/pytorch_reference.py parity --checkpoint runs/x/last

Needs Debian's python3-torch and python3-numpy (call /usr/bin/python3 explicitly).
"""
import argparse, json, math, struct, statistics, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
    """F.scaled_dot_product_attention where it exists (PyTorch >= 2.0); Debian 12's 1.13 gets the
    same math written out (softmax(q k^T / sqrt(hd)) masked, dropout on the probabilities)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if is_causal:
        attn_mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))
    return F.dropout(s.softmax(-1), dropout_p, dropout_p > 0) @ v


class Mlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc, self.proj = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class SelfAttn(nn.Module):
    def __init__(self, d, h, p):
        super().__init__()
        self.qkv, self.proj, self.h, self.p = nn.Linear(d, 3 * d), nn.Linear(d, d), h, p

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        o = sdpa(q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=True)
        return self.proj(o.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, c, p):
        super().__init__()
        d = c["d_model"]
        self.ln1, self.attn = nn.LayerNorm(d, eps=c["ln_eps"]), SelfAttn(d, c["n_head"], p)
        self.ln2, self.mlp, self.p = nn.LayerNorm(d, eps=c["ln_eps"]), Mlp(d, c["d_ff"]), p

    def forward(self, x):
        x = x + F.dropout(self.attn(self.ln1(x)), self.p, self.training)
        return x + F.dropout(self.mlp(self.ln2(x)), self.p, self.training)


class Feature(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.ln, self.fc, self.proj = nn.LayerNorm(d, eps=c["ln_eps"]), nn.Linear(d, c["d_feature"]), nn.Linear(c["d_feature"], d)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(self.ln(x))))


class ShortcutAttn(nn.Module):
    def __init__(self, d, h, s, p):
        super().__init__()
        self.q, self.kv, self.proj = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)
        self.h, self.s, self.p = h, s, p

    def forward(self, x, memory, tap_visible=None):
        b, t, d = x.shape
        n = memory.shape[1]
        q = self.q(x).view(b, t, self.h, d // self.h).transpose(1, 2)
        k, v = self.kv(memory).view(b, n, 2, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        tau = torch.arange(t * self.s) // self.s
        mask = tau[None, :] <= torch.arange(t)[:, None]          # query t sees entry e iff e // |S| <= t
        if tap_visible is not None:                              # exit: also only taps S[e % |S|] <= exit depth
            mask = mask & tap_visible.repeat(t)[None, :]
        o = sdpa(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        return self.proj(o.transpose(1, 2).reshape(b, t, d))


class ShortcutBlock(nn.Module):
    def __init__(self, c, p):
        super().__init__()
        d = c["d_model"]
        self.ln_q, self.attn = nn.LayerNorm(d, eps=c["ln_eps"]), ShortcutAttn(d, c["n_head"], len(c["taps"]), p)
        self.ln2, self.mlp, self.p = nn.LayerNorm(d, eps=c["ln_eps"]), Mlp(d, c["d_ff"]), p

    def forward(self, x, memory, tap_visible=None):
        h = x + F.dropout(self.attn(self.ln_q(x), memory, tap_visible), self.p, self.training)
        return h + F.dropout(self.mlp(self.ln2(h)), self.p, self.training)


class ShortcutGpt(nn.Module):
    def __init__(self, c, p=0.0):
        super().__init__()
        self.c, self.p, taps = c, p, c["taps"]
        d = c["d_model"]
        self.tok_emb, self.pos_emb = nn.Embedding(c["vocab_size"], d), nn.Embedding(c["n_ctx"], d)
        nblocks = c["n_layer"] - 1 if taps else c["n_layer"]
        self.blocks = nn.ModuleList([Block(c, p) for _ in range(nblocks)])
        self.features = nn.ModuleList([Feature(c) for _ in taps])
        if taps:
            self.shortcut = ShortcutBlock(c, p)
        self.ln_f = nn.LayerNorm(d, eps=c["ln_eps"])
        if not c["tied_embeddings"]:
            self.head = nn.Linear(d, c["vocab_size"], bias=False)

    def forward(self, ids, exit_depth=None):
        """Logits; with exit_depth e (docs/FORMAT.md section 4, "Exits") the shortcut block is queried
        from x_e and sees only the memory of taps <= e. None (or L-1) is the full model."""
        b, t = ids.shape
        x = F.dropout(self.tok_emb(ids) + self.pos_emb(torch.arange(t)), self.p, self.training)
        taps, z, states = self.c["taps"], [], [x]
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            states.append(x)
            if i + 1 in taps:
                z.append(self.features[taps.index(i + 1)](x))
        if taps:
            memory = torch.stack(z, dim=2).reshape(b, t * len(taps), -1)   # position-major e = tau*|S| + j
            if exit_depth is None:
                x = self.shortcut(x, memory)
            else:
                assert taps[0] <= exit_depth <= len(self.blocks), f"exit depth {exit_depth} needs a tap at or below it"
                x = self.shortcut(states[exit_depth], memory, torch.tensor([k <= exit_depth for k in taps]))
        w = self.tok_emb.weight if self.c["tied_embeddings"] else self.head.weight
        return F.linear(self.ln_f(x), w)


def config(layers, dim, heads, ctx, shortcut, vocab=256):
    return {"vocab_size": vocab, "n_ctx": ctx, "n_layer": layers, "d_model": dim, "n_head": heads, "d_ff": 4 * dim,
            "taps": list(range(1, layers)) if shortcut else [], "d_feature": 4 * dim, "tied_embeddings": True, "ln_eps": 1e-5}


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
            c = config(layers, dim, args.heads, args.context, shortcut)
            model = ShortcutGpt(c, args.dropout).train()
            decay = [p for p in model.parameters() if p.dim() >= 2]
            rest = [p for p in model.parameters() if p.dim() < 2]
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                    lr=1e-4, betas=(0.9, 0.95))
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


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(e["shape"]).copy())
    return out


def parity(args):
    with open(f"{args.checkpoint}/config.json") as f:
        c = json.load(f)["model"]
    c.setdefault("exit_depths", [])
    model = ShortcutGpt(c).eval()
    missing, unexpected = model.load_state_dict(read_safetensors(f"{args.checkpoint}/model.safetensors"), strict=True)
    ids = torch.tensor([[(7 * i + 3) % c["vocab_size"] for i in range(min(c["n_ctx"], args.length))]])
    with torch.no_grad():
        logits = model(ids)[0]
    result = {"logits_sum": float(logits.double().sum())}
    with torch.no_grad():   # every exit of the recipe (docs/FORMAT.md section 4), when the config lists any
        result["exit_logits_sum"] = {str(e): float(model(ids, e)[0].double().sum()) for e in c["exit_depths"]}
    if args.data:
        # Same windows as `eval --data FILE` (docs/FORMAT.md section 6), byte tokenizer.
        tokens = torch.tensor(list(open(args.data, "rb").read()), dtype=torch.long)
        t = c["n_ctx"]
        w = (len(tokens) - 1) // t
        total = 0.0
        with torch.no_grad():
            for i in range(0, w, 16):
                rows = min(16, w - i)
                x = torch.stack([tokens[(i + r) * t:(i + r) * t + t] for r in range(rows)])
                y = torch.stack([tokens[(i + r) * t + 1:(i + r) * t + t + 1] for r in range(rows)])
                total += F.cross_entropy(model(x).view(-1, c["vocab_size"]), y.view(-1), reduction="sum").item()
        result["val_nll"] = total / (w * t)
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
