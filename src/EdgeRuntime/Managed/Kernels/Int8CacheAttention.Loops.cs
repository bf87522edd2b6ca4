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
            // 32 slots per pass: four independent sums, 64 bytes of each pair row.
            for (; u + 32 <= n; u += 32)
            {
                Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int r = 0; r < pairs; r++)
                {
                    var qp = Vector256.Create(Unsafe.Add(ref qp0, r)).AsInt16();
                    ref sbyte row = ref Unsafe.Add(ref k0, ((nint)r * capacity + u) * 2);
                    a0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref row)), qp);
                    a1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref row, 16)), qp);
                    a2 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref row, 32)), qp);
                    a3 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref row, 48)), qp);
                }
                StoreScores(a0, scale, ref ks0, ref s0, u);
                StoreScores(a1, scale, ref ks0, ref s0, u + 8);
                StoreScores(a2, scale, ref ks0, ref s0, u + 16);
                StoreScores(a3, scale, ref ks0, ref s0, u + 24);
            }
            for (; u + 8 <= n; u += 8)
            {
                Vector256<int> a0 = default;
                for (int r = 0; r < pairs; r++)
                    a0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref Unsafe.Add(ref k0, ((nint)r * capacity + u) * 2))),
                        Vector256.Create(Unsafe.Add(ref qp0, r)).AsInt16());
                StoreScores(a0, scale, ref ks0, ref s0, u);
            }
        }
        for (; u < n; u++)
        {
            int sum = 0;
            for (int c = 0; c < 2 * pairs; c++) sum += qq[c] * keys[KeyIndex(c, u, capacity)];
            Unsafe.Add(ref s0, u) = (sum * sq) * Unsafe.Add(ref ks0, u);
        }
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
            // 32 channels per pass: four independent sums, 64 bytes of each slot pair.
            for (; c + 32 <= hd; c += 32)
            {
                Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int P = 0; P < slotPairs; P++)
                {
                    var wp = Vector256.Create(Unsafe.Add(ref wp0, P)).AsInt16();
                    ref sbyte pair = ref Unsafe.Add(ref v0, ((nint)P * hd + c) * 2);
                    a0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref pair)), wp);
                    a1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref pair, 16)), wp);
                    a2 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref pair, 32)), wp);
                    a3 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref pair, 48)), wp);
                }
                (Vector256.ConvertToSingle(a0) * scale).StoreUnsafe(ref o0, (nuint)c);
                (Vector256.ConvertToSingle(a1) * scale).StoreUnsafe(ref o0, (nuint)c + 8);
                (Vector256.ConvertToSingle(a2) * scale).StoreUnsafe(ref o0, (nuint)c + 16);
                (Vector256.ConvertToSingle(a3) * scale).StoreUnsafe(ref o0, (nuint)c + 24);
            }
            for (; c + 8 <= hd; c += 8)
            {
                Vector256<int> a0 = default;
                for (int P = 0; P < slotPairs; P++)
                    a0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref Unsafe.Add(ref v0, ((nint)P * hd + c) * 2))),
                        Vector256.Create(Unsafe.Add(ref wp0, P)).AsInt16());
                (Vector256.ConvertToSingle(a0) * scale).StoreUnsafe(ref o0, (nuint)c);
            }
        }
        for (; c < hd; c++)
        {
            int sum = 0;
            for (int u = 0; u < 2 * slotPairs; u++) sum += wq[u] * values[ValueIndex(u, c, hd)];
            Unsafe.Add(ref o0, c) = sum * sw;
        }
    }
}
