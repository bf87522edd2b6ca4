using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported) { Apply512(s); return; }
        ref float r = ref MemoryMarshal.GetReference(s);
        int i = 0, n = s.Length;
        float max = Vector256.IsHardwareAccelerated && Avx.IsSupported ? Max256(ref r, n) : TensorPrimitives.Max(s);
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
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
        Elementwise.Scale(s, 1f / sum);
    }

    /// <summary>The largest score, as <c>TensorPrimitives.Max</c> gives it (NaN if any is NaN), with plain <c>vmaxps</c> and
    /// the NaN test kept apart: TensorPrimitives' NaN-ordering maximum was a fifth of a 240-score softmax on Zen 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max256(ref float r, int n)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (n >= 8)
        {
            var lanes = Vector256.LoadUnsafe(ref r);
            var nan = Avx.CompareUnordered(lanes, lanes);
            for (i = 8; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                lanes = Avx.Max(lanes, v);
                nan = Avx.Or(nan, Avx.CompareUnordered(v, v));
            }
            if (!Avx.TestZ(nan, nan)) return float.NaN;
            max = HorizontalMax(lanes);
        }
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref r, i);
            if (float.IsNaN(x)) return float.NaN;
            max = MathF.Max(max, x);
        }
        return max;
    }

    /// <summary>
    /// The AVX-512 form: the three passes (maximum, exponentials and their sum, scaling) in 16-lane vectors, each
    /// ending with one masked load and store instead of a scalar or padded-copy tail, and no <c>TensorPrimitives</c> calls
    /// (their generic operators ran as tier-0 code in a process's first prefills, see <see cref="Elementwise"/>).
    /// <c>ManagedBench kernels</c>: softmax 1280 0.49 -> 0.39 us; a short row (128-131) is bound by the exponential's
    /// latency and did not change. The lanes hold the same positions as the padded tail did (masked lanes read -inf and
    /// give 0), so the sum, and every probability, has the bits of the padded version; the maximum is exact in any order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Apply512(Span<float> s)
    {
        int n = s.Length, full = n & ~15;
        var tailMask = Vector512.GreaterThan(Vector512.Create((float)(n - full)), Lanes);   // lanes 0 .. n - full - 1
        fixed (float* r = s)
        {
            var negativeInfinity = Vector512.Create(float.NegativeInfinity);
            var vmax = negativeInfinity;
            for (int i = 0; i < full; i += 16) vmax = Avx512F.Max(vmax, Avx512F.LoadVector512(r + i));
            if (full < n) vmax = Avx512F.Max(vmax, Avx512F.MaskLoad(r + full, tailMask, negativeInfinity));
            float max = HorizontalMax(vmax);

            var broadcastMax = Vector512.Create(max);
            var floor = Vector512.Create(FlushBelow);
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < full; i += 16)
            {
                var e = FlushedExp(Vector512.Load(r + i) - broadcastMax, floor);
                e.Store(r + i);
                acc += e;
            }
            if (full < n)
            {
                var e = FlushedExp(Avx512F.MaskLoad(r + full, tailMask, negativeInfinity) - broadcastMax, floor);
                Avx512F.MaskStore(r + full, tailMask, e);
                acc += e;
            }
            var inverse = Vector512.Create(1f / Vector512.Sum(acc));
            for (int i = 0; i < full; i += 16) (Vector512.Load(r + i) * inverse).Store(r + i);
            if (full < n) Avx512F.MaskStore(r + full, tailMask, Avx512F.MaskLoad(r + full, tailMask, Vector512<float>.Zero) * inverse);
        }
    }

    /// <summary>The largest of 16 lanes in four halving steps (plain <c>vmaxps</c>: the scores are finite or -inf, and
    /// which zero a tie of +0 and -0 keeps does not change any <c>exp(s - max)</c>). The lane-by-lane scalar loop it replaces
    /// was a chain of 15 dependent extracts and compares at the head of every row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMax(Vector512<float> v) => HorizontalMax(Avx.Max(v.GetLower(), v.GetUpper()));

    /// <summary>The largest of 8 lanes in three halving steps (as above).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMax(Vector256<float> v)
    {
        var q = Sse.Max(v.GetLower(), v.GetUpper());
        q = Sse.Max(q, Sse.Shuffle(q, q, 0b_01_00_11_10));
        q = Sse.Max(q, Sse.Shuffle(q, q, 0b_10_11_00_01));
        return q.ToScalar();
    }

    /// <summary>0, 1, .., 15: lane i of a tail holds a real score when i &lt; the tail's length.</summary>
    private static readonly Vector512<float> Lanes = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary><c>exp(d)</c> lane-wise, 0 where <c>d &lt; floor</c> (the exponent is clamped first, so no lane
    /// ever computes a sub-normal number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FlushedExp(Vector512<float> d, Vector512<float> floor) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(d, floor), FastExp.Exp(Vector512.Max(d, floor)), Vector512<float>.Zero);
}
