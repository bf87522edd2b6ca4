using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>
/// <c>x + y</c> for the model's residual and embedding sums, with an alpha scalar that is never collected.
/// TorchSharp's <c>x + y</c> builds a temporary <see cref="Scalar"/> alpha = 1 for every call; the GC may
/// finalize that temporary while libtorch still reads it (nothing keeps it alive once its handle is
/// passed), and a long validation run crashed exactly there ("toFloat" check in <c>add</c>). A static
/// scalar stays reachable for the life of the process.
/// </summary>
internal static class Residual
{
    private static readonly Scalar One = 1.ToScalar();

    /// <summary><c>x + y</c>.</summary>
    public static Tensor Add(Tensor x, Tensor y) => x.add(y, One);
}
