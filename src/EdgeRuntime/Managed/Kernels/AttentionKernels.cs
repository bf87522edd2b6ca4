using System.Numerics;
using System.Runtime.InteropServices;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// One head's attention over cached keys and values for one query:
/// <c>out = sum_u softmax_u(q . k_u) v_u</c>. Keys are cached transposed, <c>kt[c * stride + u]</c>
/// (<c>[hd, capacity]</c> per head), so the scores for a run of positions are one chain of vector
/// multiply-adds with no horizontal reductions; values are cached row-major, <c>v[u * hd + c]</c>
/// (<c>[capacity, hd]</c> per head), so the weighted sum is a run of vector axpys.
/// </summary>
internal static class AttentionKernels
{
    /// <summary><c>out = softmax(q . K^T) V</c> over the first <c>scores.Length</c> cached positions.
    /// <paramref name="q"/> <c>[hd]</c> must already carry the <c>1/sqrt(hd)</c> factor.
    /// <paramref name="scores"/> is scratch <c>[n]</c>; <paramref name="output"/> is <c>[hd]</c>.</summary>
    public static void Attend(ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int stride, ReadOnlySpan<float> v,
        Span<float> scores, Span<float> output)
    {
        Scores(q, kt, stride, scores);
        Softmax.Apply(scores);
        WeightedSum(scores, v, output);
    }

    /// <summary><c>scores[u] = sum_c q[c] kt[c * stride + u]</c> for u in 0..scores.Length-1.</summary>
    public static void Scores(ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int stride, Span<float> scores)
    {
        int hd = q.Length, n = scores.Length;
        if (hd == 0 || n == 0) throw new ArgumentException("Attention needs a non-empty query and at least one position.");
        if (stride < n || kt.Length < (long)(hd - 1) * stride + n)
            throw new ArgumentException($"Transposed keys hold {kt.Length} values: too few for hd {hd}, stride {stride}, n {n}.", nameof(kt));
        ref float k0 = ref MemoryMarshal.GetReference(kt);
        ref float s0 = ref MemoryMarshal.GetReference(scores);
        int w = Vector<float>.Count, u = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // Four independent accumulators (4w positions) hide the multiply-add latency.
            for (; u + 4 * w <= n; u += 4 * w)
            {
                Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int c = 0; c < hd; c++)
                {
                    var qc = new Vector<float>(q[c]);
                    nuint o = (nuint)((nint)c * stride + u);
                    a0 += qc * Vector.LoadUnsafe(ref k0, o);
                    a1 += qc * Vector.LoadUnsafe(ref k0, o + (nuint)w);
                    a2 += qc * Vector.LoadUnsafe(ref k0, o + (nuint)(2 * w));
                    a3 += qc * Vector.LoadUnsafe(ref k0, o + (nuint)(3 * w));
                }
                a0.StoreUnsafe(ref s0, (nuint)u);
                a1.StoreUnsafe(ref s0, (nuint)(u + w));
                a2.StoreUnsafe(ref s0, (nuint)(u + 2 * w));
                a3.StoreUnsafe(ref s0, (nuint)(u + 3 * w));
            }
            for (; u + w <= n; u += w)
            {
                Vector<float> a0 = default;
                for (int c = 0; c < hd; c++)
                    a0 += new Vector<float>(q[c]) * Vector.LoadUnsafe(ref k0, (nuint)((nint)c * stride + u));
                a0.StoreUnsafe(ref s0, (nuint)u);
            }
        }
        for (; u < n; u++)
        {
            float s = 0;
            for (int c = 0; c < hd; c++) s += q[c] * kt[c * stride + u];
            scores[u] = s;
        }
    }

    /// <summary><c>output[c] = sum_u p[u] v[u * hd + c]</c> with hd = <c>output.Length</c>.</summary>
    public static void WeightedSum(ReadOnlySpan<float> p, ReadOnlySpan<float> v, Span<float> output)
    {
        int hd = output.Length, n = p.Length;
        if (hd == 0 || n == 0) throw new ArgumentException("Attention needs a non-empty output and at least one position.");
        if (v.Length < (long)n * hd) throw new ArgumentException($"Values hold {v.Length} floats, expected at least {n}*{hd}.", nameof(v));
        ref float v0 = ref MemoryMarshal.GetReference(v);
        int w = Vector<float>.Count, c = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; c + w <= hd; c += w)
            {
                // Two accumulators over alternating positions halve the dependency chain.
                Vector<float> a0 = default, a1 = default;
                int u = 0;
                for (; u + 2 <= n; u += 2)
                {
                    a0 += new Vector<float>(p[u]) * Vector.LoadUnsafe(ref v0, (nuint)((nint)u * hd + c));
                    a1 += new Vector<float>(p[u + 1]) * Vector.LoadUnsafe(ref v0, (nuint)((nint)(u + 1) * hd + c));
                }
                if (u < n) a0 += new Vector<float>(p[u]) * Vector.LoadUnsafe(ref v0, (nuint)((nint)u * hd + c));
                (a0 + a1).CopyTo(output.Slice(c, w));
            }
        }
        for (; c < hd; c++)
        {
            float s = 0;
            for (int u = 0; u < n; u++) s += p[u] * v[u * hd + c];
            output[c] = s;
        }
    }
}
