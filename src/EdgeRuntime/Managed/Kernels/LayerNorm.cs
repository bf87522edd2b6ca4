using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// LayerNorm over one vector: <c>y = (x - mean) / sqrt(var + eps) * weight + bias</c> with the biased
/// variance (PyTorch's). Two passes (mean, then the squared deviations) keep it accurate for inputs
/// with a large mean, which the residual stream can have.
/// <para>Its own loops rather than <c>TensorPrimitives</c>: System.Numerics.Tensors has no precompiled code for its
/// generic operators, so a process's first prefills ran LayerNorm's five calls per row as tier-0 code (a d128 prefill
/// took ~7 ms for its first ~30 calls, then ~4.5). The sums run in one fixed order (four 16- or 8-lane accumulators,
/// then a scalar tail) whatever the input's alignment, so every row of a prefill and of a decode step gets the bits it
/// would get alone.</para>
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
        float mean = Sum(x, squares: false) / d;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var m = Vector512.Create(mean); i + 16 <= d; i += 16) (Vector512.LoadUnsafe(ref xs, (nuint)i) - m).StoreUnsafe(ref ys, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (var m = Vector256.Create(mean); i + 8 <= d; i += 8) (Vector256.LoadUnsafe(ref xs, (nuint)i) - m).StoreUnsafe(ref ys, (nuint)i);
        for (; i < d; i++) Unsafe.Add(ref ys, i) = Unsafe.Add(ref xs, i) - mean;

        float variance = Sum(y, squares: true) / d;
        float rstd = 1f / MathF.Sqrt(variance + eps);
        // y = (y * rstd) * weight + bias, each a separate rounding.
        ref float ws = ref MemoryMarshal.GetReference(weight);
        ref float bs = ref MemoryMarshal.GetReference(bias);
        i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var r = Vector512.Create(rstd); i + 16 <= d; i += 16)
                (Vector512.LoadUnsafe(ref ys, (nuint)i) * r * Vector512.LoadUnsafe(ref ws, (nuint)i) + Vector512.LoadUnsafe(ref bs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (var r = Vector256.Create(rstd); i + 8 <= d; i += 8)
                (Vector256.LoadUnsafe(ref ys, (nuint)i) * r * Vector256.LoadUnsafe(ref ws, (nuint)i) + Vector256.LoadUnsafe(ref bs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        for (; i < d; i++) Unsafe.Add(ref ys, i) = Unsafe.Add(ref ys, i) * rstd * Unsafe.Add(ref ws, i) + Unsafe.Add(ref bs, i);
    }

    /// <summary>The sum of <paramref name="v"/> (or of its squares): four vector accumulators over whole groups of four
    /// vectors, added pairwise, then across lanes, then the remaining elements one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(ReadOnlySpan<float> v, bool squares)
    {
        ref float p = ref MemoryMarshal.GetReference(v);
        int n = v.Length, i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 64)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 64 <= n; i += 64)
            {
                var v0 = Vector512.LoadUnsafe(ref p, (nuint)i);
                var v1 = Vector512.LoadUnsafe(ref p, (nuint)i + 16);
                var v2 = Vector512.LoadUnsafe(ref p, (nuint)i + 32);
                var v3 = Vector512.LoadUnsafe(ref p, (nuint)i + 48);
                if (squares) { v0 *= v0; v1 *= v1; v2 *= v2; v3 *= v3; }
                a0 += v0; a1 += v1; a2 += v2; a3 += v3;
            }
            sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 32 <= n; i += 32)
            {
                var v0 = Vector256.LoadUnsafe(ref p, (nuint)i);
                var v1 = Vector256.LoadUnsafe(ref p, (nuint)i + 8);
                var v2 = Vector256.LoadUnsafe(ref p, (nuint)i + 16);
                var v3 = Vector256.LoadUnsafe(ref p, (nuint)i + 24);
                if (squares) { v0 *= v0; v1 *= v1; v2 *= v2; v3 *= v3; }
                a0 += v0; a1 += v1; a2 += v2; a3 += v3;
            }
            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++)
        {
            float e = Unsafe.Add(ref p, i);
            sum += squares ? e * e : e;
        }
        return sum;
    }
}
