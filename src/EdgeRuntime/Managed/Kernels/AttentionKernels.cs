using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// One head's attention over cached keys and values for one query:
/// <c>out = sum_u softmax_u(q . k_u) v_u</c>. Keys are cached transposed, <c>kt[c * stride + u]</c>
/// (<c>[hd, capacity]</c> per head), so the scores for a run of positions are one chain of vector
/// multiply-adds with no horizontal reductions; values are cached row-major, <c>v[u * hd + c]</c>
/// (<c>[capacity, hd]</c> per head), so the weighted sum walks the rows contiguously with the
/// output held in registers. 512-bit vectors where the CPU runs them, else 256-bit, then scalar tails.
/// </summary>
internal static partial class AttentionKernels
{
    /// <summary>Additive mask value of a hidden position: finite (no inf - inf), and its exponential is flushed
    /// to exactly 0 (<see cref="Softmax.FlushBelow"/>), as in the ONNX graph's masks.</summary>
    public const float Masked = -1e30f;

    /// <summary><c>out = softmax(q . K^T) V</c> over the first <c>scores.Length</c> cached positions.
    /// <paramref name="q"/> <c>[hd]</c> must already carry the <c>1/sqrt(hd)</c> factor.
    /// <paramref name="scores"/> is scratch <c>[n]</c>; <paramref name="output"/> is <c>[hd]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Attend(ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int stride, ReadOnlySpan<float> v,
        Span<float> scores, Span<float> output) => Attend(q, kt, stride, v, scores, output, default);

    /// <summary>As above, with an additive <paramref name="mask"/> over the positions (0 = visible, <see cref="Masked"/>
    /// = hidden; empty = everything visible). After the call <paramref name="scores"/> holds the probabilities.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attend(ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int stride, ReadOnlySpan<float> v,
        Span<float> scores, Span<float> output, ReadOnlySpan<float> mask) =>
        Attend<float, Float32Row>(q, kt, stride, v, scores, output, mask);

    /// <summary>As above over a cache stored as <typeparamref name="T"/> (read through <typeparamref name="TRow"/>): the
    /// same arithmetic on the same float32 values, so the same bits as the float32 kernel on the widened cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attend<T, TRow>(ReadOnlySpan<float> q, ReadOnlySpan<T> kt, int stride, ReadOnlySpan<T> v,
        Span<float> scores, Span<float> output, ReadOnlySpan<float> mask) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        Scores<T, TRow>(q, kt, stride, scores);
        if (!mask.IsEmpty) Elementwise.Add(scores, mask[..scores.Length], scores);
        Softmax.Apply(scores);
        WeightedSum<T, TRow>(scores, v, output);
    }

    /// <summary><c>output[c] = sum_u p[u] v[u * hd + c]</c> with hd = <c>output.Length</c>.</summary>
    public static void WeightedSum(ReadOnlySpan<float> p, ReadOnlySpan<float> v, Span<float> output) =>
        WeightedSum<float, Float32Row>(p, v, output);

    /// <summary><see cref="WeightedSum(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> over values stored as <typeparamref name="T"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum<T, TRow>(ReadOnlySpan<float> p, ReadOnlySpan<T> v, Span<float> output) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        int hd = output.Length, n = p.Length;
        if (hd == 0 || n == 0) throw new ArgumentException("Attention needs a non-empty output and at least one position.");
        if (v.Length < (long)n * hd) throw new ArgumentException($"Values hold {v.Length} floats, expected at least {n}*{hd}.", nameof(v));
        ref T v0 = ref MemoryMarshal.GetReference(v);
        ref float p0 = ref MemoryMarshal.GetReference(p);
        ref float o0 = ref MemoryMarshal.GetReference(output);
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // Columns c..c+63 in four registers, even and odd positions apart: eight chains in flight, enough for two
            // multiply-adds per cycle (each column's arithmetic is the one of the 32-column loop below).
            for (; c + 64 <= hd; c += 64)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                int u = 0;
                for (; u + 2 <= n; u += 2)
                {
                    ref T r0 = ref Unsafe.Add(ref v0, (nint)u * hd + c);
                    ref T r1 = ref Unsafe.Add(ref r0, hd);
                    var pu = Vector512.Create(Unsafe.Add(ref p0, u));
                    var pw = Vector512.Create(Unsafe.Add(ref p0, u + 1));
                    a0 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 0), a0);
                    a1 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 48), a3);
                    b0 = Vector512.FusedMultiplyAdd(pw, TRow.Load512(ref r1, 0), b0);
                    b1 = Vector512.FusedMultiplyAdd(pw, TRow.Load512(ref r1, 16), b1);
                    b2 = Vector512.FusedMultiplyAdd(pw, TRow.Load512(ref r1, 32), b2);
                    b3 = Vector512.FusedMultiplyAdd(pw, TRow.Load512(ref r1, 48), b3);
                }
                if (u < n)
                {
                    ref T r0 = ref Unsafe.Add(ref v0, (nint)u * hd + c);
                    var pu = Vector512.Create(Unsafe.Add(ref p0, u));
                    a0 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 0), a0);
                    a1 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 48), a3);
                }
                (a0 + b0).StoreUnsafe(ref o0, (nuint)c);
                (a1 + b1).StoreUnsafe(ref o0, (nuint)c + 16);
                (a2 + b2).StoreUnsafe(ref o0, (nuint)c + 32);
                (a3 + b3).StoreUnsafe(ref o0, (nuint)c + 48);
            }
            // Columns c..c+31 in two registers; even and odd positions in separate accumulators.
            for (; c + 32 <= hd; c += 32)
            {
                Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
                int u = 0;
                for (; u + 2 <= n; u += 2)
                {
                    ref T r0 = ref Unsafe.Add(ref v0, (nint)u * hd + c);
                    ref T r1 = ref Unsafe.Add(ref r0, hd);
                    var pu = Vector512.Create(Unsafe.Add(ref p0, u));
                    var pw = Vector512.Create(Unsafe.Add(ref p0, u + 1));
                    a0 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 0), a0);
                    a1 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 16), a1);
                    b0 = Vector512.FusedMultiplyAdd(pw, TRow.Load512(ref r1, 0), b0);
                    b1 = Vector512.FusedMultiplyAdd(pw, TRow.Load512(ref r1, 16), b1);
                }
                if (u < n)
                {
                    ref T r0 = ref Unsafe.Add(ref v0, (nint)u * hd + c);
                    var pu = Vector512.Create(Unsafe.Add(ref p0, u));
                    a0 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 0), a0);
                    a1 = Vector512.FusedMultiplyAdd(pu, TRow.Load512(ref r0, 16), a1);
                }
                (a0 + b0).StoreUnsafe(ref o0, (nuint)c);
                (a1 + b1).StoreUnsafe(ref o0, (nuint)c + 16);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            // Columns c..c+31 in four registers, even and odd positions apart: eight independent chains (each column's
            // arithmetic is the one of the 8-column loop below: even sum + odd sum).
            for (; c + 32 <= hd; c += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                int u = 0;
                for (; u + 2 <= n; u += 2)
                {
                    ref T r0 = ref Unsafe.Add(ref v0, (nint)u * hd + c);
                    ref T r1 = ref Unsafe.Add(ref r0, hd);
                    var pu = Vector256.Create(Unsafe.Add(ref p0, u));
                    var pw = Vector256.Create(Unsafe.Add(ref p0, u + 1));
                    a0 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 0), a0);
                    a1 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 24), a3);
                    b0 = Vector256.FusedMultiplyAdd(pw, TRow.Load256(ref r1, 0), b0);
                    b1 = Vector256.FusedMultiplyAdd(pw, TRow.Load256(ref r1, 8), b1);
                    b2 = Vector256.FusedMultiplyAdd(pw, TRow.Load256(ref r1, 16), b2);
                    b3 = Vector256.FusedMultiplyAdd(pw, TRow.Load256(ref r1, 24), b3);
                }
                if (u < n)
                {
                    ref T r0 = ref Unsafe.Add(ref v0, (nint)u * hd + c);
                    var pu = Vector256.Create(Unsafe.Add(ref p0, u));
                    a0 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 0), a0);
                    a1 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(pu, TRow.Load256(ref r0, 24), a3);
                }
                (a0 + b0).StoreUnsafe(ref o0, (nuint)c);
                (a1 + b1).StoreUnsafe(ref o0, (nuint)c + 8);
                (a2 + b2).StoreUnsafe(ref o0, (nuint)c + 16);
                (a3 + b3).StoreUnsafe(ref o0, (nuint)c + 24);
            }
            for (; c + 8 <= hd; c += 8)
            {
                Vector256<float> a0 = default, b0 = default;
                int u = 0;
                for (; u + 2 <= n; u += 2)
                {
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, u)), TRow.Load256(ref v0, (nuint)((nint)u * hd + c)), a0);
                    b0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, u + 1)), TRow.Load256(ref v0, (nuint)((nint)(u + 1) * hd + c)), b0);
                }
                if (u < n) a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, u)), TRow.Load256(ref v0, (nuint)((nint)u * hd + c)), a0);
                (a0 + b0).StoreUnsafe(ref o0, (nuint)c);
            }
        }
        for (; c < hd; c++)
        {
            float s = 0;
            for (int u = 0; u < n; u++) s = MathF.FusedMultiplyAdd(p[u], TRow.ToSingle(v[u * hd + c]), s);
            output[c] = s;
        }
    }
}
