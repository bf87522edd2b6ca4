using TorchSharp;
using TorchSharp.Modules;
using EdgeShortcut.Core;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>A pre-LN GPT-2 block: <c>x = x + Drop(Attn(LN1(x))); x = x + Drop(MLP(LN2(x)))</c>.
/// Keys under <c>blocks.{i}</c>: <c>ln1</c>, <c>attn.qkv</c>, <c>attn.proj</c>, <c>ln2</c>,
/// <c>mlp.fc</c>, <c>mlp.proj</c>.</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly LayerNorm ln1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln2;
    private readonly Mlp mlp;
#pragma warning restore IDE1006
    private readonly double _dropout;

    /// <summary>Creates a block of the given config with residual/attention dropout <paramref name="dropout"/>.</summary>
    public Block(string name, ModelConfig config, double dropout) : base(name)
    {
        ln1 = nn.LayerNorm(config.Dim, config.LayerNormEps);
        attn = new CausalSelfAttention("attn", config.Dim, config.Heads, dropout);
        ln2 = nn.LayerNorm(config.Dim, config.LayerNormEps);
        mlp = new Mlp("mlp", config.Dim, config.FeedForwardDim);
        _dropout = dropout;
        RegisterComponents();
    }

    /// <summary>x <c>[B, T, d]</c> to <c>[B, T, d]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = Residual.Add(x, nn.functional.dropout(attn.forward(ln1.forward(x)), _dropout, training));
        x = Residual.Add(x, nn.functional.dropout(mlp.forward(ln2.forward(x)), _dropout, training));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The block with an explicit self-attention mask <c>[B, 1, T, T]</c> (bool, true = visible), for
    /// per-token exits: the caller keeps the input x for tokens that skip the block.</summary>
    public Tensor forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        x = Residual.Add(x, nn.functional.dropout(attn.forward(ln1.forward(x), mask), _dropout, training));
        x = Residual.Add(x, nn.functional.dropout(mlp.forward(ln2.forward(x)), _dropout, training));
        return x.MoveToOuterDisposeScope();
    }
}
