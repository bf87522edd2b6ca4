using TorchSharp;
using TorchSharp.Modules;
using EdgeShortcut.Core;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>The final block of the shortcut model: <c>h = x + Drop(ShortcutAttn(LN_q(x), memory));
/// h = h + Drop(MLP(LN2(h)))</c>, where x = x_{L-1}. Keys under <c>shortcut</c>: <c>ln_q</c>,
/// <c>attn.q</c>, <c>attn.kv</c>, <c>attn.proj</c>, <c>ln2</c>, <c>mlp.fc</c>, <c>mlp.proj</c>.</summary>
public sealed class ShortcutBlock : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly LayerNorm ln_q;
    private readonly ShortcutAttention attn;
    private readonly LayerNorm ln2;
    private readonly Mlp mlp;
#pragma warning restore IDE1006
    private readonly double _dropout;

    /// <summary>Creates the final block for a shortcut config.</summary>
    public ShortcutBlock(string name, ModelConfig config, double dropout) : base(name)
    {
        ln_q = nn.LayerNorm(config.Dim, config.LayerNormEps);
        attn = new ShortcutAttention("attn", config.Dim, config.Heads, config.TapCount, dropout);
        ln2 = nn.LayerNorm(config.Dim, config.LayerNormEps);
        mlp = new Mlp("mlp", config.Dim, config.FeedForwardDim);
        _dropout = dropout;
        RegisterComponents();
    }

    /// <summary>x_{L-1} <c>[B, T, d]</c> and memory <c>[B, T*|S|, d]</c> to h <c>[B, T, d]</c>.</summary>
    public override Tensor forward(Tensor x, Tensor memory)
    {
        using var scope = NewDisposeScope();
        var h = Residual.Add(x, nn.functional.dropout(attn.forward(ln_q.forward(x), memory), _dropout, training));
        h = Residual.Add(h, nn.functional.dropout(mlp.forward(ln2.forward(h)), _dropout, training));
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>The same block for queries x <c>[B, Tq, d]</c> with an explicit memory mask <c>[Tq, T*|S|]</c>
    /// or <c>[B, 1, Tq, T*|S|]</c> (bool, true = visible): how exits query it (see <see cref="ShortcutAttention.ExitMask"/>).</summary>
    public Tensor forward(Tensor x, Tensor memory, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var h = Residual.Add(x, nn.functional.dropout(attn.forward(ln_q.forward(x), memory, mask), _dropout, training));
        h = Residual.Add(h, nn.functional.dropout(mlp.forward(ln2.forward(h)), _dropout, training));
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Attention probabilities <c>[B, H, T, T*|S|]</c> of the shortcut attention (eval math).</summary>
    public Tensor AttentionWeights(Tensor x, Tensor memory)
    {
        using var scope = NewDisposeScope();
        return attn.Weights(ln_q.forward(x), memory).MoveToOuterDisposeScope();
    }
}
