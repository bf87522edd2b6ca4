using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// The int8 key/value cache's number format (<see cref="KeyValueCachePrecision.Int8"/>): one head's key or value of one
/// slot, <c>x[hd]</c>, is stored as <c>q[hd]</c> in -127..127 with one float32 scale, <c>x ~ scale * q</c>,
/// <code>
/// scale = max_c |x[c]| / 127;   q[c] = round_to_even(x[c] * (127 / max_c |x[c]|))    # an all-zero x: scale 0, q 0
/// </code>
/// so each value is within half a step (<c>scale / 2</c>, plus float32 rounding) of what it was. Symmetric, per head and
/// slot: a score <c>q . k_u = scale_u (q . kq_u)</c> and a weighted sum <c>sum_u p_u v_u = sum_u (p_u scale_u) vq_u</c> take
/// the scale outside the multiply-add chains, which then run on exact small integers (<see cref="Int8CacheAttention"/>). A NaN or infinity in <c>x</c> makes
/// the scale non-finite, so attention over that slot gives NaN, as float32 arithmetic on it would.
/// </summary>
internal static class Int8CacheQuantizer
{
    /// <summary>Quantizes <paramref name="x"/> into <paramref name="q"/> (the same length) and returns the scale. Sixteen
    /// lanes at a time on 512-bit vectors, or eight on AVX2 (a decode step quantizes 2H heads per layer: the scalar loop took
    /// 0.13 us per hd-64 head on Zen 5, 0.22 on Zen 2); every lane gives the scalar loop's value, so the bits do not depend
    /// on the path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Quantize(ReadOnlySpan<float> x, Span<sbyte> q)
    {
        if (q.Length != x.Length) throw new ArgumentException($"{x.Length} values into {q.Length} bytes.", nameof(q));
        int n = x.Length, i = 0;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref sbyte q0 = ref MemoryMarshal.GetReference(q);
        float max = 0;
        bool wide = Vector512.IsHardwareAccelerated && n >= 16, narrow = !wide && Avx2.IsSupported && n >= 16;
        if (wide)
        {
            var lanes = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) lanes = Vector512.Max(lanes, Vector512.Abs(Vector512.LoadUnsafe(ref x0, (nuint)i)));   // keeps a NaN
            for (int l = 0; l < 16; l++) max = MathF.Max(max, lanes.GetElement(l));
        }
        else if (narrow) (max, i) = (MaxAbs(x, default), n);
        for (; i < n; i++) max = MathF.Max(max, MathF.Abs(Unsafe.Add(ref x0, i)));   // MathF.Max keeps a NaN
        if (max == 0)
        {
            q.Clear();
            return 0;
        }
        float inverse = 127f / max;
        i = 0;
        if (wide)
        {
            // Round to nearest even, clamp to +-127 (x * inverse may round to 127.00002), convert: what the scalar loop does.
            var scale = Vector512.Create(inverse);
            var limit = Vector512.Create(127f);
            for (; i + 16 <= n; i += 16)
            {
                var r = Vector512.Round(Vector512.LoadUnsafe(ref x0, (nuint)i) * scale);
                var clamped = Vector512.Min(Vector512.Max(r, -limit), limit);
                Avx512F.ConvertToVector128SByteWithSaturation(Vector512.ConvertToInt32(clamped)).StoreUnsafe(ref q0, (nuint)i);
            }
        }
        else if (narrow)
        {
            // The same per lane on 256-bit vectors (AVX2 machines: 0.22 -> 0.05 us per hd-64 head); two packs with
            // saturation narrow 16 int32 lanes, already within +-127, to 16 bytes in order.
            var scale = Vector256.Create(inverse);
            var limit = Vector256.Create(127f);
            for (; i + 16 <= n; i += 16)
            {
                var a = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(Vector256.LoadUnsafe(ref x0, (nuint)i) * scale), -limit), limit));
                var b = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(Vector256.LoadUnsafe(ref x0, (nuint)i + 8) * scale), -limit), limit));
                var shorts = (Sse2.PackSignedSaturate(a.GetLower(), a.GetUpper()), Sse2.PackSignedSaturate(b.GetLower(), b.GetUpper()));
                Sse2.PackSignedSaturate(shorts.Item1, shorts.Item2).StoreUnsafe(ref q0, (nuint)i);
            }
        }
        // Math.Clamp only guards the last ulp; the conversion saturates a NaN to 0 (the scale is NaN then anyway).
        for (; i < n; i++) Unsafe.Add(ref q0, i) = (sbyte)Math.Clamp(MathF.Round(Unsafe.Add(ref x0, i) * inverse), -127f, 127f);
        return max / 127f;
    }

    /// <summary><c>max_i |x_i y_i|</c> (y empty: <c>max_i |x_i|</c>), NaN if any product is NaN: a slot's scale (above) and the
    /// largest query element or attention weight (<see cref="Int8CacheAttention"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float MaxAbs(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int n = x.Length, i = 0;
        bool scaled = !y.IsEmpty;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref float y0 = ref MemoryMarshal.GetReference(y);
        float max = 0;
        if (Avx2.IsSupported && n >= 8)
        {
            // Plain vmaxps (Vector256.Max orders NaN and signed zeros at several instructions a step), with a NaN seen in
            // any lane kept apart.
            Vector256<float> lanes = Vector256<float>.Zero, nan = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref x0, (nuint)i);
                if (scaled) v *= Vector256.LoadUnsafe(ref y0, (nuint)i);
                lanes = Avx.Max(lanes, Vector256.Abs(v));
                nan = Avx.Or(nan, Avx.CompareUnordered(v, v));
            }
            for (int l = 0; l < 8; l++) max = MathF.Max(max, lanes.GetElement(l));
            if (!Avx.TestZ(nan, nan)) return float.NaN;
        }
        for (; i < n; i++) max = MathF.Max(max, MathF.Abs(scaled ? Unsafe.Add(ref x0, i) * Unsafe.Add(ref y0, i) : Unsafe.Add(ref x0, i)));
        return max;
    }
}
