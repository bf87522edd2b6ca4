using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// LayerNorm over one vector: <c>y = (x - mean) / sqrt(var + eps) * weight + bias</c> with the biased
/// variance (PyTorch's). Two passes (mean, then the squared deviations) keep it accurate for inputs
/// with a large mean, which the residual stream can have.
/// </summary>
internal static class LayerNorm
{
    /// <summary>Normalizes <paramref name="x"/> <c>[d]</c> into <paramref name="y"/> <c>[d]</c> (may alias x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, Span<float> y)
    {
        int d = x.Length;
        if (d == 0) throw new ArgumentException("LayerNorm of an empty vector.", nameof(x));
        if (weight.Length != d || bias.Length != d || y.Length != d)
            throw new ArgumentException($"LayerNorm lengths disagree: x {d}, weight {weight.Length}, bias {bias.Length}, y {y.Length}.");
        float mean = TensorPrimitives.Sum(x) / d;
        TensorPrimitives.Subtract(x, mean, y);
        float variance = TensorPrimitives.SumOfSquares(y) / d;
        float rstd = 1f / MathF.Sqrt(variance + eps);
        TensorPrimitives.Multiply(y, rstd, y);
        TensorPrimitives.MultiplyAdd(y, weight, bias, y);
    }
}
