using System.Numerics.Tensors;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// fp32 matrix-vector product for fp32 model files: <c>y[r] = dot(w[r, :], x) + bias[r]</c>, with
/// <c>w</c> row-major <c>[rows, cols]</c> (PyTorch <c>[out, in]</c>), <c>x</c> <c>[cols]</c>, <c>y</c> <c>[rows]</c>.
/// </summary>
internal static class Fp32MatVec
{
    /// <summary>Computes <c>y</c>; <paramref name="bias"/> may be empty for none.</summary>
    public static void Compute(ReadOnlySpan<float> w, ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y)
    {
        int rows = y.Length, cols = x.Length;
        if (w.Length != (long)rows * cols) throw new ArgumentException($"w has {w.Length} elements, expected rows*cols = {rows}*{cols}.", nameof(w));
        if (bias.Length != 0 && bias.Length != rows) throw new ArgumentException($"bias has {bias.Length} elements, expected 0 or {rows}.", nameof(bias));
        for (int r = 0; r < rows; r++)
        {
            float v = TensorPrimitives.Dot(w.Slice(r * cols, cols), x);
            y[r] = bias.IsEmpty ? v : v + bias[r];
        }
    }
}
