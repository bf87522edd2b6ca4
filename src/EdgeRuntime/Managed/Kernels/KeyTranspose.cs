using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// Appends T tokens' keys to a transposed key cache: <c>keys[c * n + p0 + t] = src[t * srcStride + c]</c> for
/// channels c &lt; d and tokens t &lt; T (the cache is <c>[d, n]</c>: heads' rows one after another, as
/// <see cref="AttentionKernels"/> reads them). A copy, so every path gives the same bits.
/// <para>Why a kernel: element by element this was 12 us of every prefill token of the 85M model, on one thread
/// (each load came from a different row of the qkv buffer). With AVX2 an 8 x 8 tile is eight row loads, a register
/// transpose and eight 32-byte stores.</para>
/// </summary>
internal static class KeyTranspose
{
    /// <summary>See the type. <paramref name="src"/> holds T rows of <paramref name="srcStride"/> floats, the key of token t
    /// at <c>src[t * srcStride .. + d]</c>; <paramref name="keys"/> is <c>[d, n]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Append(ReadOnlySpan<float> src, int srcStride, int d, int T, Span<float> keys, int n, int p0)
    {
        if (T < 1 || d < 1 || p0 < 0 || p0 + T > n) throw new ArgumentOutOfRangeException(nameof(T), $"Positions {p0}..{p0 + T - 1} are outside a cache of {n}.");
        if (src.Length < (long)(T - 1) * srcStride + d || keys.Length < (long)d * n)
            throw new ArgumentException("The key rows or the cache are too short for their shape.");
        int c0 = 0;
        if (Avx.IsSupported && T >= 8)
        {
            ref float s0 = ref MemoryMarshal.GetReference(src);
            ref float k0 = ref MemoryMarshal.GetReference(keys);
            for (; c0 + 8 <= d; c0 += 8)
            {
                int t = 0;
                for (; t + 8 <= T; t += 8)
                    Tile8x8(ref Unsafe.Add(ref s0, (nint)t * srcStride + c0), srcStride, ref Unsafe.Add(ref k0, (nint)c0 * n + p0 + t), n);
                for (; t < T; t++)
                    for (int c = c0; c < c0 + 8; c++) keys[c * n + p0 + t] = src[t * srcStride + c];
            }
        }
        for (int c = c0; c < d; c++)
        {
            var row = keys.Slice(c * n + p0, T);
            for (int t = 0; t < T; t++) row[t] = src[t * srcStride + c];
        }
    }

    /// <summary>dst[j * dstStride + i] = src[i * srcStride + j] for i, j &lt; 8: the classic unpack / shuffle / permute transpose.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile8x8(ref float src, int srcStride, ref float dst, int dstStride)
    {
        var r0 = Vector256.LoadUnsafe(ref src);
        var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, srcStride));
        var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 2 * srcStride));
        var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 3 * srcStride));
        var r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 4 * srcStride));
        var r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 5 * srcStride));
        var r6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 6 * srcStride));
        var r7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 7 * srcStride));
        // Pairs of rows interleaved, then quads, then the 128-bit halves swapped across rows i and i + 4.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, dstStride));
        Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 2 * dstStride));
        Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 3 * dstStride));
        Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 4 * dstStride));
        Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 5 * dstStride));
        Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 6 * dstStride));
        Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 7 * dstStride));
    }
}
