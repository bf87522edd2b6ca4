using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// The attention of four consecutive queries of one head (a prefill's causal rows), bit-identical to four calls of
/// <see cref="AttentionKernels.Attend(ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{float})"/>.
/// Query i (0..3) sees the first <c>length0 + i</c> positions.
/// <para>Why: one query's scores and weighted sum load a key or value vector per multiply-add, so the token-by-token
/// prefill streamed the head's cache once per query and ran at ~4 GMAC/s. Here each loaded vector feeds four
/// multiply-adds, one per query, as the prefill GEMM does with its token tiles.</para>
/// <para>Bit identity: every score is still one multiply-add chain over c = 0..hd-1, and every output column is
/// still (chain over even positions) + (chain over odd positions), both in position order, which is exactly the
/// arithmetic of <see cref="AttentionKernels.Scores"/> and <see cref="AttentionKernels.WeightedSum"/> for
/// <c>hd % 8 == 0</c> (<see cref="Supports"/>), whether the lanes are 256 or 512 bits wide. Scores of positions a query cannot see are computed (their keys are
/// cached: a prefill appends all its keys first) and never read.</para>
/// </summary>
internal static class QueryBlockAttention
{
    /// <summary>Queries per block.</summary>
    public const int Queries = 4;

    /// <summary>Whether this kernel reproduces <see cref="AttentionKernels"/> bit for bit for heads of width
    /// <paramref name="hd"/> on this CPU (else the caller attends query by query).</summary>
    public static bool Supports(int hd) => Vector256.IsHardwareAccelerated && hd % 8 == 0 && hd > 0;

    /// <summary>
    /// <paramref name="q"/>: query i at <c>q[i * qStride .. + hd]</c>, already scaled by 1/sqrt(hd).
    /// <paramref name="kt"/> <c>[hd, stride]</c> transposed keys and <paramref name="v"/> <c>[stride, hd]</c> values of the
    /// head. <paramref name="scores"/> is scratch <c>[4, length0 + 3]</c>. Output i goes to
    /// <c>output[i * outStride .. + hd]</c>. <paramref name="mask"/> <c>[length0 + 3]</c> is additive, or empty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attend(ReadOnlySpan<float> q, int qStride, int hd, ReadOnlySpan<float> kt, int stride, ReadOnlySpan<float> v,
        int length0, Span<float> scores, Span<float> output, int outStride, ReadOnlySpan<float> mask)
    {
        int n = length0 + Queries - 1;   // positions the last query sees
        if (!Supports(hd)) throw new NotSupportedException($"Query blocks need 256-bit vectors and hd % 8 == 0 (hd {hd}).");
        if (length0 < 1 || n > stride) throw new ArgumentOutOfRangeException(nameof(length0), length0, $"Query blocks need 1..{stride - Queries + 1} positions for the first query.");
        if (q.Length < 3L * qStride + hd || kt.Length < (long)(hd - 1) * stride + n || v.Length < (long)n * hd
            || scores.Length < Queries * n || output.Length < 3L * outStride + hd || (!mask.IsEmpty && mask.Length < n))
            throw new ArgumentException("A query block's buffers are too short for its shape.");
        Scores(q, qStride, hd, kt, stride, n, scores);
        for (int i = 0; i < Queries; i++)
        {
            var row = scores.Slice(i * n, length0 + i);
            if (!mask.IsEmpty) Elementwise.Add(row, mask[..row.Length], row);
            Softmax.Apply(row);
        }
        WeightedSum(scores, n, length0, v, hd, output, outStride);
    }

    /// <summary><c>scores[i * n + u] = sum_c q_i[c] kt[c * stride + u]</c> for the four queries and u &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // optimized at first call: a short-lived process's prefill never ran the tier-0 code here long enough to tier up
    private static void Scores(ReadOnlySpan<float> q, int qStride, int hd, ReadOnlySpan<float> kt, int stride, int n, Span<float> scores)
    {
        ref float k0 = ref MemoryMarshal.GetReference(kt);
        ref float q0 = ref MemoryMarshal.GetReference(q);
        ref float q1 = ref Unsafe.Add(ref q0, qStride);
        ref float q2 = ref Unsafe.Add(ref q0, 2 * qStride);
        ref float q3 = ref Unsafe.Add(ref q0, 3 * qStride);
        ref float s0 = ref MemoryMarshal.GetReference(scores);
        int u = 0;
        // With 512-bit vectors (Zen 4/5 run them at full width), 32 positions x 4 queries per pass: twice the multiply-adds per
        // instruction. Every lane is still its own chain over c, so the scores are those of the narrower loops.
        if (Vector512.IsHardwareAccelerated)
        {
            for (; u + 32 <= n; u += 32)
            {
                Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
                for (int c = 0; c < hd; c++)
                {
                    ref float row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
                    var k = Vector512.LoadUnsafe(ref row);
                    var l = Vector512.LoadUnsafe(ref row, 16);
                    var x = Vector512.Create(Unsafe.Add(ref q0, c));
                    a0 = Vector512.FusedMultiplyAdd(x, k, a0);
                    a1 = Vector512.FusedMultiplyAdd(x, l, a1);
                    x = Vector512.Create(Unsafe.Add(ref q1, c));
                    b0 = Vector512.FusedMultiplyAdd(x, k, b0);
                    b1 = Vector512.FusedMultiplyAdd(x, l, b1);
                    x = Vector512.Create(Unsafe.Add(ref q2, c));
                    c0 = Vector512.FusedMultiplyAdd(x, k, c0);
                    c1 = Vector512.FusedMultiplyAdd(x, l, c1);
                    x = Vector512.Create(Unsafe.Add(ref q3, c));
                    d0 = Vector512.FusedMultiplyAdd(x, k, d0);
                    d1 = Vector512.FusedMultiplyAdd(x, l, d1);
                }
                a0.StoreUnsafe(ref s0, (nuint)u); a1.StoreUnsafe(ref s0, (nuint)(u + 16));
                b0.StoreUnsafe(ref s0, (nuint)(n + u)); b1.StoreUnsafe(ref s0, (nuint)(n + u + 16));
                c0.StoreUnsafe(ref s0, (nuint)(2 * n + u)); c1.StoreUnsafe(ref s0, (nuint)(2 * n + u + 16));
                d0.StoreUnsafe(ref s0, (nuint)(3 * n + u)); d1.StoreUnsafe(ref s0, (nuint)(3 * n + u + 16));
            }
        }
        // 16 positions x 4 queries: eight independent chains; each loaded key vector feeds four of them.
        for (; u + 16 <= n; u += 16)
        {
            Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
            for (int c = 0; c < hd; c++)
            {
                ref float row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
                var k = Vector256.LoadUnsafe(ref row);
                var l = Vector256.LoadUnsafe(ref row, 8);
                var x = Vector256.Create(Unsafe.Add(ref q0, c));
                a0 = Vector256.FusedMultiplyAdd(x, k, a0);
                a1 = Vector256.FusedMultiplyAdd(x, l, a1);
                x = Vector256.Create(Unsafe.Add(ref q1, c));
                b0 = Vector256.FusedMultiplyAdd(x, k, b0);
                b1 = Vector256.FusedMultiplyAdd(x, l, b1);
                x = Vector256.Create(Unsafe.Add(ref q2, c));
                c0 = Vector256.FusedMultiplyAdd(x, k, c0);
                c1 = Vector256.FusedMultiplyAdd(x, l, c1);
                x = Vector256.Create(Unsafe.Add(ref q3, c));
                d0 = Vector256.FusedMultiplyAdd(x, k, d0);
                d1 = Vector256.FusedMultiplyAdd(x, l, d1);
            }
            a0.StoreUnsafe(ref s0, (nuint)u); a1.StoreUnsafe(ref s0, (nuint)(u + 8));
            b0.StoreUnsafe(ref s0, (nuint)(n + u)); b1.StoreUnsafe(ref s0, (nuint)(n + u + 8));
            c0.StoreUnsafe(ref s0, (nuint)(2 * n + u)); c1.StoreUnsafe(ref s0, (nuint)(2 * n + u + 8));
            d0.StoreUnsafe(ref s0, (nuint)(3 * n + u)); d1.StoreUnsafe(ref s0, (nuint)(3 * n + u + 8));
        }
        // The last partial runs, 8 positions at a time where the key rows reach that far (a row is `stride` long; past n
        // they hold stale keys): one vector chain per query instead of a scalar chain per (query, position), the same
        // per-lane arithmetic; only the real scores are stored, so the queries' rows do not overlap. This was most of
        // the fixed cost of a block (0.44 us for 4-7 positions at hd 32, ManagedBench kernels).
        for (; u < n && u + 8 <= stride && (long)(hd - 1) * stride + u + 8 <= kt.Length; u += 8)
        {
            Vector256<float> a0 = default, b0 = default, c0 = default, d0 = default;
            for (int c = 0; c < hd; c++)
            {
                var k = Vector256.LoadUnsafe(ref Unsafe.Add(ref k0, (nint)c * stride + u));
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q0, c)), k, a0);
                b0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q1, c)), k, b0);
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q2, c)), k, c0);
                d0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q3, c)), k, d0);
            }
            for (int i = 0; i < 8 && u + i < n; i++)
            {
                Unsafe.Add(ref s0, u + i) = a0.GetElement(i);
                Unsafe.Add(ref s0, n + u + i) = b0.GetElement(i);
                Unsafe.Add(ref s0, 2 * n + u + i) = c0.GetElement(i);
                Unsafe.Add(ref s0, 3 * n + u + i) = d0.GetElement(i);
            }
        }
        for (; u < n; u++)
        {
            float a = 0, b = 0, e = 0, f = 0;
            for (int c = 0; c < hd; c++)
            {
                float k = Unsafe.Add(ref k0, (nint)c * stride + u);
                a = MathF.FusedMultiplyAdd(Unsafe.Add(ref q0, c), k, a);
                b = MathF.FusedMultiplyAdd(Unsafe.Add(ref q1, c), k, b);
                e = MathF.FusedMultiplyAdd(Unsafe.Add(ref q2, c), k, e);
                f = MathF.FusedMultiplyAdd(Unsafe.Add(ref q3, c), k, f);
            }
            Unsafe.Add(ref s0, u) = a;
            Unsafe.Add(ref s0, n + u) = b;
            Unsafe.Add(ref s0, 2 * n + u) = e;
            Unsafe.Add(ref s0, 3 * n + u) = f;
        }
    }

    /// <summary><c>output_i[c] = sum_{u &lt; length0 + i} p_i[u] v[u * hd + c]</c>, 8 columns at a time: the even
    /// positions in one chain and the odd ones in another per query, added at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // as Scores
    private static void WeightedSum(ReadOnlySpan<float> p, int n, int length0, ReadOnlySpan<float> v, int hd, Span<float> output, int outStride)
    {
        ref float v0 = ref MemoryMarshal.GetReference(v);
        ref float p0 = ref MemoryMarshal.GetReference(p);
        ref float o0 = ref MemoryMarshal.GetReference(output);
        int c = 0;
        // 16 columns per pass with 512-bit vectors: each column keeps its own even and odd chains, so the sums are those
        // of the 8-column loop below.
        if (Vector512.IsHardwareAccelerated)
        {
            for (; c + 16 <= hd; c += 16)
            {
                Vector512<float> ea = default, oa = default, eb = default, ob = default, ec = default, oc = default, ed = default, od = default;
                int u = 0;
                for (; u + 2 <= length0; u += 2)
                {
                    var even = Vector512.LoadUnsafe(ref v0, (nuint)((nint)u * hd + c));
                    var odd = Vector512.LoadUnsafe(ref v0, (nuint)((nint)(u + 1) * hd + c));
                    ea = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, u)), even, ea);
                    oa = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, u + 1)), odd, oa);
                    eb = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, n + u)), even, eb);
                    ob = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, n + u + 1)), odd, ob);
                    ec = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, 2 * n + u)), even, ec);
                    oc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, 2 * n + u + 1)), odd, oc);
                    ed = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, 3 * n + u)), even, ed);
                    od = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref p0, 3 * n + u + 1)), odd, od);
                }
                Finish(ref ea, ref oa, ref p0, 0, u, length0, ref v0, hd, c);
                Finish(ref eb, ref ob, ref p0, n, u, length0 + 1, ref v0, hd, c);
                Finish(ref ec, ref oc, ref p0, 2 * n, u, length0 + 2, ref v0, hd, c);
                Finish(ref ed, ref od, ref p0, 3 * n, u, length0 + 3, ref v0, hd, c);
                (ea + oa).StoreUnsafe(ref o0, (nuint)c);
                (eb + ob).StoreUnsafe(ref o0, (nuint)(outStride + c));
                (ec + oc).StoreUnsafe(ref o0, (nuint)(2 * outStride + c));
                (ed + od).StoreUnsafe(ref o0, (nuint)(3 * outStride + c));
            }
        }
        for (; c < hd; c += 8)
        {
            Vector256<float> ea = default, oa = default, eb = default, ob = default, ec = default, oc = default, ed = default, od = default;
            int u = 0;
            // Positions every query sees, in pairs (even, odd).
            for (; u + 2 <= length0; u += 2)
            {
                var even = Vector256.LoadUnsafe(ref v0, (nuint)((nint)u * hd + c));
                var odd = Vector256.LoadUnsafe(ref v0, (nuint)((nint)(u + 1) * hd + c));
                ea = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, u)), even, ea);
                oa = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, u + 1)), odd, oa);
                eb = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, n + u)), even, eb);
                ob = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, n + u + 1)), odd, ob);
                ec = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, 2 * n + u)), even, ec);
                oc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, 2 * n + u + 1)), odd, oc);
                ed = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, 3 * n + u)), even, ed);
                od = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, 3 * n + u + 1)), odd, od);
            }
            // The rest of each query's positions (at most four), each into the chain of its parity.
            Finish(ref ea, ref oa, ref p0, 0, u, length0, ref v0, hd, c);
            Finish(ref eb, ref ob, ref p0, n, u, length0 + 1, ref v0, hd, c);
            Finish(ref ec, ref oc, ref p0, 2 * n, u, length0 + 2, ref v0, hd, c);
            Finish(ref ed, ref od, ref p0, 3 * n, u, length0 + 3, ref v0, hd, c);
            (ea + oa).StoreUnsafe(ref o0, (nuint)c);
            (eb + ob).StoreUnsafe(ref o0, (nuint)(outStride + c));
            (ec + oc).StoreUnsafe(ref o0, (nuint)(2 * outStride + c));
            (ed + od).StoreUnsafe(ref o0, (nuint)(3 * outStride + c));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(ref Vector512<float> even, ref Vector512<float> odd, ref float p0, int row, int from, int to, ref float v0, int hd, int c)
    {
        for (int u = from; u < to; u++)
        {
            var values = Vector512.LoadUnsafe(ref v0, (nuint)((nint)u * hd + c));
            var pu = Vector512.Create(Unsafe.Add(ref p0, row + u));
            if ((u & 1) == 0) even = Vector512.FusedMultiplyAdd(pu, values, even);
            else odd = Vector512.FusedMultiplyAdd(pu, values, odd);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(ref Vector256<float> even, ref Vector256<float> odd, ref float p0, int row, int from, int to, ref float v0, int hd, int c)
    {
        for (int u = from; u < to; u++)
        {
            var values = Vector256.LoadUnsafe(ref v0, (nuint)((nint)u * hd + c));
            var pu = Vector256.Create(Unsafe.Add(ref p0, row + u));
            if ((u & 1) == 0) even = Vector256.FusedMultiplyAdd(pu, values, even);
            else odd = Vector256.FusedMultiplyAdd(pu, values, odd);
        }
    }
}
