using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// Numerically safe softmax in place: <c>p = exp(s - max s) / sum exp(s - max s)</c>.
/// Hand-written because <c>TensorPrimitives.SoftMax</c> does not subtract the max (STACK.md), which
/// overflows to inf/NaN once a score exceeds ~88, and because <c>TensorPrimitives.Exp(float)</c>
/// measured slower than scalar <c>MathF.Exp</c> here (docs/BENCHMARKS.md). The exponentials are
/// <see cref="FastExp"/>'s, whose scalar and vector forms agree bit for bit, so every position gets the same
/// exponential whichever loop reaches it. One fused pass computes and sums them.
/// <para>Exponentials below float's smallest normal number (<c>s - max &lt; </c><see cref="FlushBelow"/>) are
/// flushed to 0: they are at most 1.2e-38 of the largest term, far below float resolution of the sum,
/// but as subnormal numbers every later multiply-add with them takes a microcode assist on x86 (tens
/// to hundreds of cycles each), which made attention over long, peaked score rows several times slower.</para>
/// </summary>
internal static class Softmax
{
    /// <summary>Shifted scores below this give subnormal exponentials; they are flushed to 0 (also <see cref="FastExp"/>'s domain).</summary>
    public const float FlushBelow = FastExp.Min;

    /// <summary>Replaces the scores in <paramref name="s"/> (at least one) by their softmax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(Span<float> s)
    {
        if (s.IsEmpty) throw new ArgumentException("Softmax of an empty vector.", nameof(s));
        float max = TensorPrimitives.Max(s);
        ref float r = ref MemoryMarshal.GetReference(s);
        int i = 0, n = s.Length;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)   // any length: the partial run at the end is padded
        {
            var vmax = Vector512.Create(max);
            var floor = Vector512.Create(FlushBelow);
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var e = FlushedExp(Vector512.LoadUnsafe(ref r, (nuint)i) - vmax, floor);
                e.StoreUnsafe(ref r, (nuint)i);
                acc += e;
            }
            if (i < n)
            {
                // The last partial run, padded with -inf (exp gives 0), so no scalar exp calls.
                Span<float> tail = stackalloc float[16];
                tail.Fill(float.NegativeInfinity);
                s[i..].CopyTo(tail);
                var e = FlushedExp(Vector512.Create((ReadOnlySpan<float>)tail) - vmax, floor);
                acc += e;
                e.CopyTo(tail);
                tail[..(n - i)].CopyTo(s[i..]);
                i = n;
            }
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vmax = Vector256.Create(max);
            var floor = Vector256.Create(FlushBelow);
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.LoadUnsafe(ref r, (nuint)i) - vmax;
                var e = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(d, floor), FastExp.Exp(Vector256.Max(d, floor)), Vector256<float>.Zero);
                e.StoreUnsafe(ref r, (nuint)i);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float d = s[i] - max;
            float e = d >= FlushBelow ? FastExp.Exp(d) : 0f;
            s[i] = e;
            sum += e;
        }
        TensorPrimitives.Multiply(s, 1f / sum, s);
    }

    /// <summary><c>exp(d)</c> lane-wise, 0 where <c>d &lt; floor</c> (the exponent is clamped first, so no lane
    /// ever computes a sub-normal number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FlushedExp(Vector512<float> d, Vector512<float> floor) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(d, floor), FastExp.Exp(Vector512.Max(d, floor)), Vector512<float>.Zero);
}
