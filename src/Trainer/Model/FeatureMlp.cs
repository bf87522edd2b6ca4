using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>The "feature learning" MLP of one tapped layer k (PAPER.md): <c>z_k = F_k(LN_k(x_k))</c>
/// with <c>F_k = Linear(d, m) - GELU - Linear(m, d)</c>. Keys under <c>features.{j}</c>:
/// <c>ln.weight/bias [d]</c>, <c>fc.weight [m, d]</c>, <c>fc.bias [m]</c>, <c>proj.weight [d, m]</c>, <c>proj.bias [d]</c>.</summary>
public sealed class FeatureMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly LayerNorm ln;
    private readonly Linear fc;
    private readonly Linear proj;
#pragma warning restore IDE1006

    /// <summary>Creates the feature MLP for width <paramref name="dim"/> and hidden width <paramref name="hidden"/> (m).</summary>
    public FeatureMlp(string name, int dim, int hidden, float eps) : base(name)
    {
        ln = nn.LayerNorm(dim, eps);
        fc = nn.Linear(dim, hidden, hasBias: true);
        proj = nn.Linear(hidden, dim, hasBias: true);
        RegisterComponents();
    }

    /// <summary>x_k <c>[B, T, d]</c> to z_k <c>[B, T, d]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return proj.forward(nn.functional.gelu(fc.forward(ln.forward(x)))).MoveToOuterDisposeScope();
    }
}
