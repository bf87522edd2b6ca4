using System.Numerics.Tensors;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// Numerically safe softmax in place: <c>p = exp(s - max s) / sum exp(s - max s)</c>.
/// Hand-written because <c>TensorPrimitives.SoftMax</c> does not subtract the max (STACK.md), which
/// overflows to inf/NaN once a score exceeds ~88.
/// </summary>
internal static class Softmax
{
    /// <summary>Replaces the scores in <paramref name="s"/> (at least one) by their softmax.</summary>
    public static void Apply(Span<float> s)
    {
        if (s.IsEmpty) throw new ArgumentException("Softmax of an empty vector.", nameof(s));
        float max = TensorPrimitives.Max(s);
        TensorPrimitives.Subtract(s, max, s);
        TensorPrimitives.Exp(s, s);
        float sum = TensorPrimitives.Sum(s);
        TensorPrimitives.Multiply(s, 1f / sum, s);
    }
}
