using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// One query's attention over one head of an int8 key/value cache (<see cref="Int8CacheQuantizer"/>: slot u's key is
/// <c>keyScales[u] kq_u</c>, its value <c>valueScales[u] vq_u</c>, integers in -127..127), with both multiply-add chains in
/// exact integer arithmetic:
/// <code>
/// q ~ sq qq                 qq int16, sq = max|q| / 32767 (round to even)
/// s_u = (float(qq . kq_u) sq) keyScales[u]       int32 sums: exact in any order
/// p = softmax(s + mask)
/// w_u = p_u valueScales[u] ~ sw wq_u             wq int16, sw = max_u w_u / min(32767, 16e6 / n)
/// o_c = float(sum_u wq_u vq_u[c]) sw
/// </code>
/// Why: widening each int8 key or value to float32 before a multiply-add took three instructions per eight products on
/// AVX2 (sign-extend, convert, multiply-add); <c>vpmaddwd</c> does sixteen int16 products and their pairwise sums in one,
/// with the bytes sign-extended sixteen at a time. It needs the pairs it adds side by side, so the int8 cache stores both
/// halves interleaved (<see cref="KeyIndex"/>, <see cref="ValueIndex"/>): keys as <c>[ceil(hd/2), capacity, 2]</c> (channels
/// 2r and 2r+1 of a slot together), values as <c>[ceil(capacity/2), hd, 2]</c> (slots 2P and 2P+1 of a channel together).
/// <para>Exactness: the int32 sums do not depend on the order of the products, so every path here (scalar, AVX2) gives
/// the same bits, and so does a prefill that calls this per query. The quantization of q and w is deterministic, adds
/// at most half a step (1/65534 of the largest element) per element, and is bounded so that no int32 sum can overflow:
/// <c>|qq| &lt;= (2^31 - 1) / (127 * 2 ceil(hd/2))</c> (32767 up to hd 516) and <c>wq_u &lt;= 16e6 / n</c> (32767 up to n 488).</para>
/// </summary>
internal static partial class Int8CacheAttention
{
    /// <summary>Slots a head may hold: keeps the weights' largest integer, <c>16e6 / n</c> (below), at 30 or more.</summary>
    public const int MaxSlots = 1 << 19;

    /// <summary>The weights' quantization keeps <c>sum_u wq_u</c> at or below this (times 127: below 2^31).</summary>
    private const int WeightSumLimit = 16_000_000;

    /// <summary>Where channel <paramref name="c"/> of slot <paramref name="u"/>'s key sits in a head's keys.</summary>
    public static int KeyIndex(int c, int u, int capacity) => ((c >> 1) * capacity + u) * 2 + (c & 1);

    /// <summary>Where channel <paramref name="c"/> of slot <paramref name="u"/>'s value sits in a head's values.</summary>
    public static int ValueIndex(int u, int c, int hd) => ((u >> 1) * hd + c) * 2 + (u & 1);

    /// <summary>Bytes of one head's keys: channels rounded up to pairs (an odd hd's last pair ends in a zero).</summary>
    public static int KeyLength(int hd, int capacity) => (hd + 1) / 2 * 2 * capacity;

    /// <summary>Bytes of one head's values: slots rounded up to pairs.</summary>
    public static int ValueLength(int hd, int capacity) => (capacity + 1) / 2 * 2 * hd;

    /// <summary>
    /// Attends <paramref name="q"/> <c>[hd]</c> (already scaled by 1/sqrt(hd)) over the first <c>scores.Length</c> slots of a head
    /// of <paramref name="capacity"/> slots (<paramref name="keys"/>, <paramref name="values"/> in the layouts above). Afterwards
    /// <paramref name="scores"/> holds the probabilities (what the shortcut block's tap mass reads). <paramref name="scratch"/>
    /// holds at least <c>scores.Length + 1</c> int16 weights.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attend(ReadOnlySpan<float> q, ReadOnlySpan<sbyte> keys, ReadOnlySpan<float> keyScales, ReadOnlySpan<sbyte> values,
        ReadOnlySpan<float> valueScales, int capacity, Span<float> scores, Span<float> output, ReadOnlySpan<float> mask, Span<short> scratch)
    {
        int hd = q.Length, n = scores.Length, pairs = (hd + 1) / 2;
        if (hd == 0 || n == 0 || output.Length != hd) throw new ArgumentException("Attention needs a query, an output of its width and at least one slot.");
        if (n > capacity || capacity > MaxSlots || keys.Length < KeyLength(hd, capacity) || values.Length < ValueLength(hd, capacity)
            || keyScales.Length < n || valueScales.Length < n || scratch.Length < n + 1 || (!mask.IsEmpty && mask.Length < n))
            throw new ArgumentException($"An int8 head of {capacity} slots (at most {MaxSlots}) attended over {n}: a buffer is too short.");
        Span<short> qq = hd <= 1024 ? stackalloc short[2 * pairs] : new short[2 * pairs];
        float sq = QuantizeQuery(q, qq);
        Scores(qq, keys, capacity, sq, keyScales, scores);
        if (!mask.IsEmpty) Elementwise.Add(scores, mask[..n], scores);
        Softmax.Apply(scores);
        float sw = QuantizeWeights(scores, valueScales, scratch);
        WeightedSum(scratch, values, n, sw, output);
    }

    /// <summary><c>qq = round(q / sq)</c> in <c>-limit..limit</c>, padded with zeros to <c>qq.Length</c> (whole channel pairs), with
    /// <c>limit = min(32767, (2^31 - 1) / (127 qq.Length))</c> so that no score's int32 sum can overflow; returns <c>sq = max|q| / limit</c>
    /// (0 for an all-zero q; NaN or infinity for a q that holds one, which then makes every score NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float QuantizeQuery(ReadOnlySpan<float> q, Span<short> qq)
    {
        int limit = (int)Math.Min(short.MaxValue, int.MaxValue / (127L * qq.Length));
        qq.Clear();
        float max = Int8CacheQuantizer.MaxAbs(q, default);
        if (max == 0 || !float.IsFinite(max)) return max;
        Round(q, default, limit / max, limit, qq);
        return max / limit;
    }

    /// <summary><c>wq_u = round(p_u valueScales[u] / sw)</c> into <paramref name="wq"/>, then a zero (so slot pairs are whole), with
    /// <c>sw = max_u w_u / min(32767, 16e6 / n)</c>: no int32 sum of n products with int8 values can overflow. Returns sw (0 when
    /// every weight is 0, NaN or infinity when one is).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float QuantizeWeights(ReadOnlySpan<float> p, ReadOnlySpan<float> valueScales, Span<short> wq)
    {
        int n = p.Length, limit = Math.Min(short.MaxValue, WeightSumLimit / n);
        wq[n] = 0;
        float max = Int8CacheQuantizer.MaxAbs(p, valueScales[..n]);
        if (max == 0 || !float.IsFinite(max)) return max;
        Round(p, valueScales, limit / max, limit, wq);
        return max / limit;
    }

    /// <summary><c>r_i = clamp(round_to_even(x_i y_i inverse), -limit, limit)</c> (y empty: x_i inverse), the same in every lane as in the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Round(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float inverse, int limit, Span<short> r)
    {
        int n = x.Length, i = 0;
        bool scaled = !y.IsEmpty;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref float y0 = ref MemoryMarshal.GetReference(y);
        ref short r0 = ref MemoryMarshal.GetReference(r);
        if (Avx2.IsSupported)
        {
            var scale = Vector256.Create(inverse);
            var top = Vector256.Create((float)limit);
            var bottom = -top;
            for (; i + 16 <= n; i += 16)
            {
                var a = Vector256.LoadUnsafe(ref x0, (nuint)i);
                var b = Vector256.LoadUnsafe(ref x0, (nuint)i + 8);
                if (scaled) (a, b) = (a * Vector256.LoadUnsafe(ref y0, (nuint)i), b * Vector256.LoadUnsafe(ref y0, (nuint)i + 8));
                // Clamped (x * inverse may round one ulp past the limit), then vcvtps2dq, which rounds to nearest even as
                // MathF.Round does (Vector256.ConvertToInt32 truncates, and saturates at a cost); the packs keep the order within each half.
                var ia = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(a * scale, bottom), top));
                var ib = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(b * scale, bottom), top));
                Sse2.PackSignedSaturate(ia.GetLower(), ia.GetUpper()).StoreUnsafe(ref r0, (nuint)i);
                Sse2.PackSignedSaturate(ib.GetLower(), ib.GetUpper()).StoreUnsafe(ref r0, (nuint)i + 8);
            }
        }
        for (; i < n; i++)
        {
            float v = scaled ? Unsafe.Add(ref x0, i) * Unsafe.Add(ref y0, i) : Unsafe.Add(ref x0, i);
            Unsafe.Add(ref r0, i) = (short)Math.Clamp(MathF.Round(v * inverse), -limit, limit);
        }
    }
}
