"""Tensor names and shapes of a checkpoint (docs/FORMAT.md section 3), in the contract's order.

The same list as `src/Core/TensorNames.cs`, in the same order; the model's parameters come out in
this order too, which is also the order of the optimizer state (optimizer_file.py).
"""


def tensor_names(c):
    """[(name, shape)] for ModelConfig c."""
    d, f, m = c.d_model, c.d_ff, c.d_feature
    out = [("tok_emb.weight", [c.vocab_size, d]), ("pos_emb.weight", [c.n_ctx, d])]

    def norm(p):
        out.extend([(f"{p}.weight", [d]), (f"{p}.bias", [d])])

    def linear(p, n_out, n_in):
        out.extend([(f"{p}.weight", [n_out, n_in]), (f"{p}.bias", [n_out])])

    for i in range(c.self_attention_blocks):
        b = f"blocks.{i}"
        norm(f"{b}.ln1")
        linear(f"{b}.attn.qkv", 3 * d, d)       # rows q, k, v; heads contiguous inside each
        linear(f"{b}.attn.proj", d, d)
        norm(f"{b}.ln2")
        linear(f"{b}.mlp.fc", f, d)
        linear(f"{b}.mlp.proj", d, f)
    if c.is_shortcut:
        for j in range(len(c.taps)):
            norm(f"features.{j}.ln")
            linear(f"features.{j}.fc", m, d)
            linear(f"features.{j}.proj", d, m)
        norm("shortcut.ln_q")
        linear("shortcut.attn.q", d, d)
        linear("shortcut.attn.kv", 2 * d, d)    # rows k, v
        linear("shortcut.attn.proj", d, d)
        norm("shortcut.ln2")
        linear("shortcut.mlp.fc", f, d)
        linear("shortcut.mlp.proj", d, f)
    norm("ln_f")
    if not c.tied_embeddings:
        out.append(("head.weight", [c.vocab_size, d]))
    return out
