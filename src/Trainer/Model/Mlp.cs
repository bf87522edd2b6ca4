using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>The position-wise feed-forward branch of a block: <c>proj(GELU(fc(x)))</c> with exact
/// (erf) GELU. Keys: <c>fc.weight [d_ff, d]</c>, <c>fc.bias [d_ff]</c>, <c>proj.weight [d, d_ff]</c>,
/// <c>proj.bias [d]</c>. Also used as the tapped-layer feature MLP body (width m instead of d_ff).</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    // Field names are the state_dict keys (docs/FORMAT.md section 3).
#pragma warning disable IDE1006
    private readonly Linear fc;
    private readonly Linear proj;
#pragma warning restore IDE1006

    /// <summary>Creates <c>Linear(dim, hidden) - GELU - Linear(hidden, dim)</c>.</summary>
    public Mlp(string name, int dim, int hidden) : base(name)
    {
        fc = nn.Linear(dim, hidden, hasBias: true);
        proj = nn.Linear(hidden, dim, hasBias: true);
        RegisterComponents();
    }

    /// <summary>x <c>[..., d]</c> to <c>[..., d]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return proj.forward(nn.functional.gelu(fc.forward(x))).MoveToOuterDisposeScope();
    }
}
