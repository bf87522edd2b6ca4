using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The two integer multiply-add loops of Int8CacheAttention. AVX2: vpmovsxbw sign-extends 16 cached bytes (8 slots x 2
// channels of a key pair row, or 8 channels x 2 slots of a value pair) to int16, vpmaddwd multiplies them by a broadcast
// pair of int16 (two query channels, or two slots' weights) and adds each product pair into an int32 lane. Then scalar
// loops for what is left; all give the same integers.
internal static partial class Int8CacheAttention
{
    /// <summary><c>scores[u] = (float(sum_c qq[c] k[c, u]) * sq) * keyScales[u]</c> for u &lt; scores.Length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Scores(ReadOnlySpan<short> qq, ReadOnlySpan<sbyte> keys, int capacity, float sq, ReadOnlySpan<float> keyScales, Span<float> scores)
    {
        int pairs = qq.Length / 2, n = scores.Length, u = 0;
        ref sbyte k0 = ref MemoryMarshal.GetReference(keys);
        ref int qp0 = ref Unsafe.As<short, int>(ref MemoryMarshal.GetReference(qq));   // one query pair per int
        ref float ks0 = ref MemoryMarshal.GetReference(keyScales);
        ref float s0 = ref MemoryMarshal.GetReference(scores);
        if (Avx2.IsSupported)
        {
            var scale = Vector256.Create(sq);
            // 32 slots per pass (64 bytes of each pair row), then 8.
            for (; u + 32 <= n; u += 32)
            {
                PairSums32(ref Unsafe.Add(ref k0, u * 2), 2 * (nint)capacity, ref qp0, pairs, out var a0, out var a1, out var a2, out var a3);
                StoreScores(a0, scale, ref ks0, ref s0, u);
                StoreScores(a1, scale, ref ks0, ref s0, u + 8);
                StoreScores(a2, scale, ref ks0, ref s0, u + 16);
                StoreScores(a3, scale, ref ks0, ref s0, u + 24);
            }
            for (; u + 8 <= n; u += 8)
                StoreScores(PairSums8(ref Unsafe.Add(ref k0, u * 2), 2 * (nint)capacity, ref qp0, pairs), scale, ref ks0, ref s0, u);
        }
        for (; u < n; u++)
        {
            int sum = 0;
            for (int c = 0; c < 2 * pairs; c++) sum += qq[c] * keys[KeyIndex(c, u, capacity)];
            Unsafe.Add(ref s0, u) = (sum * sq) * Unsafe.Add(ref ks0, u);
        }
    }

    /// <summary>The one loop of both chains: for k &lt; <paramref name="count"/>, the 64 bytes at <c>row + k stride</c> (32 int8 pairs)
    /// times <c>pairs[k]</c> (two int16 in one int: two query channels, or two slots' weights), each pair's two products added
    /// into one of 32 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairSums32(ref sbyte row, nint stride, ref int pairs, int count,
        out Vector256<int> a0, out Vector256<int> a1, out Vector256<int> a2, out Vector256<int> a3)
    {
        (a0, a1, a2, a3) = (default, default, default, default);
        for (int k = 0; k < count; k++)
        {
            var p = Vector256.Create(Unsafe.Add(ref pairs, k)).AsInt16();
            ref sbyte r = ref Unsafe.Add(ref row, k * stride);
            a0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref r)), p);
            a1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref r, 16)), p);
            a2 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref r, 32)), p);
            a3 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref r, 48)), p);
        }
    }

    /// <summary><see cref="PairSums32"/> over 16 bytes per k: 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairSums8(ref sbyte row, nint stride, ref int pairs, int count)
    {
        Vector256<int> a = default;
        for (int k = 0; k < count; k++)
            a += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref Unsafe.Add(ref row, k * stride))),
                Vector256.Create(Unsafe.Add(ref pairs, k)).AsInt16());
        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScores(Vector256<int> sums, Vector256<float> sq, ref float keyScales, ref float scores, int u) =>
        (Vector256.ConvertToSingle(sums) * sq * Vector256.LoadUnsafe(ref keyScales, (nuint)u)).StoreUnsafe(ref scores, (nuint)u);

    /// <summary><c>output[c] = float(sum_u wq[u] v[u, c]) * sw</c> over the first n slots (<paramref name="wq"/> holds n + 1 weights, the
    /// last 0, so that an odd n's last pair is whole). Non-finite sw (a NaN or infinite weight) gives NaN, sw 0 gives 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WeightedSum(ReadOnlySpan<short> wq, ReadOnlySpan<sbyte> values, int n, float sw, Span<float> output)
    {
        if (sw == 0 || !float.IsFinite(sw))
        {
            output.Fill(sw == 0 ? 0f : float.NaN);
            return;
        }
        int hd = output.Length, slotPairs = (n + 1) / 2, c = 0;
        ref sbyte v0 = ref MemoryMarshal.GetReference(values);
        ref int wp0 = ref Unsafe.As<short, int>(ref MemoryMarshal.GetReference(wq));   // one slot pair's weights per int
        ref float o0 = ref MemoryMarshal.GetReference(output);
        if (Avx2.IsSupported)
        {
            var scale = Vector256.Create(sw);
            // 32 channels per pass (64 bytes of each slot pair), then 8.
            for (; c + 32 <= hd; c += 32)
            {
                PairSums32(ref Unsafe.Add(ref v0, c * 2), 2 * (nint)hd, ref wp0, slotPairs, out var a0, out var a1, out var a2, out var a3);
                (Vector256.ConvertToSingle(a0) * scale).StoreUnsafe(ref o0, (nuint)c);
                (Vector256.ConvertToSingle(a1) * scale).StoreUnsafe(ref o0, (nuint)c + 8);
                (Vector256.ConvertToSingle(a2) * scale).StoreUnsafe(ref o0, (nuint)c + 16);
                (Vector256.ConvertToSingle(a3) * scale).StoreUnsafe(ref o0, (nuint)c + 24);
            }
            for (; c + 8 <= hd; c += 8)
                (Vector256.ConvertToSingle(PairSums8(ref Unsafe.Add(ref v0, c * 2), 2 * (nint)hd, ref wp0, slotPairs)) * scale).StoreUnsafe(ref o0, (nuint)c);
        }
        for (; c < hd; c++)
        {
            int sum = 0;
            for (int u = 0; u < 2 * slotPairs; u++) sum += wq[u] * values[ValueIndex(u, c, hd)];
            Unsafe.Add(ref o0, c) = sum * sw;
        }
    }
}
