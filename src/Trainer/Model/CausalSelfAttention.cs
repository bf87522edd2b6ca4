using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>Ordinary multi-head causal self-attention of blocks 1..B:
/// <c>qkv = x W_qkv^T + b</c> (rows q, k, v; heads contiguous inside each), per head
/// <c>softmax(q k^T / sqrt(hd))</c> masked to u &lt;= t, then <c>proj</c>. Keys:
/// <c>qkv.weight [3d, d]</c>, <c>qkv.bias [3d]</c>, <c>proj.weight [d, d]</c>, <c>proj.bias [d]</c>.</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Linear qkv;
    private readonly Linear proj;
#pragma warning restore IDE1006
    private readonly int _heads;
    private readonly double _dropout;

    /// <summary>Creates the projections for width <paramref name="dim"/> and <paramref name="heads"/> heads;
    /// <paramref name="dropout"/> applies to the attention probabilities while training.</summary>
    public CausalSelfAttention(string name, int dim, int heads, double dropout) : base(name)
    {
        qkv = nn.Linear(dim, 3 * dim, hasBias: true);
        proj = nn.Linear(dim, dim, hasBias: true);
        _heads = heads;
        _dropout = dropout;
        RegisterComponents();
    }

    /// <summary>x <c>[B, T, d]</c> (already layer-normed) to the branch output <c>[B, T, d]</c>
    /// (before the residual dropout and add).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / _heads;
        // [B, T, 3d] -> [B, T, 3, H, hd] -> [3, B, H, T, hd]
        var parts = qkv.forward(x).view(b, t, 3, _heads, hd).permute(2, 0, 3, 1, 4);
        var o = nn.functional.scaled_dot_product_attention(parts[0], parts[1], parts[2],
            p: training ? _dropout : 0.0, is_casual: true);                 // [B, H, T, hd]
        return proj.forward(o.transpose(1, 2).reshape(b, t, d)).MoveToOuterDisposeScope();
    }

    /// <summary>Like <see cref="forward(Tensor)"/> with an explicit boolean mask <c>[B, 1, T, T]</c> (true = query t
    /// sees key u) instead of the causal one: per-token exits (<see cref="ShortcutGpt.TokenExitKeyMask"/>) hide the
    /// keys of tokens that exited below this block. Every row must see at least one key.</summary>
    public Tensor forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / _heads;
        var parts = qkv.forward(x).view(b, t, 3, _heads, hd).permute(2, 0, 3, 1, 4);
        var o = nn.functional.scaled_dot_product_attention(parts[0], parts[1], parts[2], attn_mask: mask,
            p: training ? _dropout : 0.0);                                   // [B, H, T, hd]
        return proj.forward(o.transpose(1, 2).reshape(b, t, d)).MoveToOuterDisposeScope();
    }
}
