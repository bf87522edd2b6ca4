using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The x86 paths. Each walks four rows at a time so one activation load feeds four rows, then reduces
// the four accumulators together (two rounds of horizontal adds) and runs the vector epilogue.
// Leftover rows (rows % 4) and leftover columns (cols % step) take scalar code with the same math.
internal static partial class Int8MatVec
{
    /// <summary>
    /// AVX-VNNI: <c>vpdpbusd</c> multiplies unsigned bytes by signed bytes. Activations are fed as
    /// <c>x ^ 0x80 = x + 128</c> (unsigned), so the sum gains <c>128 * sum_i w[r, i]</c>, removed with
    /// the precomputed row sum. The biased sum may wrap past int32 for wide rows, but vpdpbusd adds
    /// modulo 2^32 (no saturation) and so does C#'s unchecked int; the true result fits in int32
    /// (cols &lt;= 2^17), so the wrapped difference is exact.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private static void ComputeAvxVnni(ReadOnlySpan<sbyte> w, ReadOnlySpan<int> rowSums, ReadOnlySpan<float> wScales,
        ReadOnlySpan<sbyte> x, float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        int rows = y.Length, cols = x.Length, vecCols = cols & ~31;
        ref sbyte w0 = ref MemoryMarshal.GetReference(w);
        ref byte xb = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(x));
        var flip = Vector256.Create((byte)0x80);
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref sbyte wr = ref Unsafe.Add(ref w0, (nint)r * cols);
            nint c1 = cols, c2 = 2 * (nint)cols, c3 = 3 * (nint)cols;
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < vecCols; c += 32)
            {
                var xv = Vector256.LoadUnsafe(ref xb, (nuint)c) ^ flip;
                a0 = AvxVnni.MultiplyWideningAndAdd(a0, xv, Vector256.LoadUnsafe(ref wr, (nuint)c));
                a1 = AvxVnni.MultiplyWideningAndAdd(a1, xv, Vector256.LoadUnsafe(ref Unsafe.Add(ref wr, c1), (nuint)c));
                a2 = AvxVnni.MultiplyWideningAndAdd(a2, xv, Vector256.LoadUnsafe(ref Unsafe.Add(ref wr, c2), (nuint)c));
                a3 = AvxVnni.MultiplyWideningAndAdd(a3, xv, Vector256.LoadUnsafe(ref Unsafe.Add(ref wr, c3), (nuint)c));
            }
            var acc = Reduce4(a0, a1, a2, a3);
            if (vecCols < cols)
                acc += Vector128.Create(TailBiased(w, x, r, cols, vecCols), TailBiased(w, x, r + 1, cols, vecCols),
                    TailBiased(w, x, r + 2, cols, vecCols), TailBiased(w, x, r + 3, cols, vecCols));
            acc -= Vector128.Create(rowSums.Slice(r, 4)) << 7;
            Finish4(acc, r, wScales, xScale, bias, y);
        }
        for (; r < rows; r++)
        {
            ref sbyte wr = ref Unsafe.Add(ref w0, (nint)r * cols);
            Vector256<int> a0 = default;
            for (int c = 0; c < vecCols; c += 32)
                a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.LoadUnsafe(ref xb, (nuint)c) ^ flip, Vector256.LoadUnsafe(ref wr, (nuint)c));
            int s = Vector256.Sum(a0) + TailBiased(w, x, r, cols, vecCols) - (rowSums[r] << 7);
            Finish1(s, r, wScales, xScale, bias, y);
        }
    }

    /// <summary>AVX-512BW: sign-extend 32 bytes to 32 int16 lanes and <c>vpmaddwd</c> (no saturation possible).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private static void ComputeAvx512BW(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScales, ReadOnlySpan<sbyte> x,
        float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        int rows = y.Length, cols = x.Length, vecCols = cols & ~31;
        ref sbyte w0 = ref MemoryMarshal.GetReference(w);
        ref sbyte xr = ref MemoryMarshal.GetReference(x);
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref sbyte wr = ref Unsafe.Add(ref w0, (nint)r * cols);
            nint c1 = cols, c2 = 2 * (nint)cols, c3 = 3 * (nint)cols;
            Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < vecCols; c += 32)
            {
                var xv = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref xr, (nuint)c));
                a0 += Avx512BW.MultiplyAddAdjacent(xv, Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref wr, (nuint)c)));
                a1 += Avx512BW.MultiplyAddAdjacent(xv, Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref Unsafe.Add(ref wr, c1), (nuint)c)));
                a2 += Avx512BW.MultiplyAddAdjacent(xv, Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref Unsafe.Add(ref wr, c2), (nuint)c)));
                a3 += Avx512BW.MultiplyAddAdjacent(xv, Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref Unsafe.Add(ref wr, c3), (nuint)c)));
            }
            var acc = Reduce4(a0.GetLower() + a0.GetUpper(), a1.GetLower() + a1.GetUpper(),
                a2.GetLower() + a2.GetUpper(), a3.GetLower() + a3.GetUpper());
            if (vecCols < cols)
                acc += Vector128.Create(Tail(w, x, r, cols, vecCols), Tail(w, x, r + 1, cols, vecCols),
                    Tail(w, x, r + 2, cols, vecCols), Tail(w, x, r + 3, cols, vecCols));
            Finish4(acc, r, wScales, xScale, bias, y);
        }
        for (; r < rows; r++)
        {
            ref sbyte wr = ref Unsafe.Add(ref w0, (nint)r * cols);
            Vector512<int> a0 = default;
            for (int c = 0; c < vecCols; c += 32)
                a0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref xr, (nuint)c)),
                    Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref wr, (nuint)c)));
            Finish1(Vector512.Sum(a0) + Tail(w, x, r, cols, vecCols), r, wScales, xScale, bias, y);
        }
    }

    /// <summary>AVX2: sign-extend 16 bytes to 16 int16 lanes and <c>vpmaddwd</c>; for CPUs without VNNI (e.g. Zen 2/3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private static void ComputeAvx2(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScales, ReadOnlySpan<sbyte> x,
        float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        int rows = y.Length, cols = x.Length, vecCols = cols & ~15;
        ref sbyte w0 = ref MemoryMarshal.GetReference(w);
        ref sbyte xr = ref MemoryMarshal.GetReference(x);
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref sbyte wr = ref Unsafe.Add(ref w0, (nint)r * cols);
            nint c1 = cols, c2 = 2 * (nint)cols, c3 = 3 * (nint)cols;
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < vecCols; c += 16)
            {
                var xv = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref xr, (nuint)c));
                a0 += Avx2.MultiplyAddAdjacent(xv, Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref wr, (nuint)c)));
                a1 += Avx2.MultiplyAddAdjacent(xv, Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref Unsafe.Add(ref wr, c1), (nuint)c)));
                a2 += Avx2.MultiplyAddAdjacent(xv, Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref Unsafe.Add(ref wr, c2), (nuint)c)));
                a3 += Avx2.MultiplyAddAdjacent(xv, Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref Unsafe.Add(ref wr, c3), (nuint)c)));
            }
            var acc = Reduce4(a0, a1, a2, a3);
            if (vecCols < cols)
                acc += Vector128.Create(Tail(w, x, r, cols, vecCols), Tail(w, x, r + 1, cols, vecCols),
                    Tail(w, x, r + 2, cols, vecCols), Tail(w, x, r + 3, cols, vecCols));
            Finish4(acc, r, wScales, xScale, bias, y);
        }
        for (; r < rows; r++)
        {
            ref sbyte wr = ref Unsafe.Add(ref w0, (nint)r * cols);
            Vector256<int> a0 = default;
            for (int c = 0; c < vecCols; c += 16)
                a0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref xr, (nuint)c)),
                    Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref wr, (nuint)c)));
            Finish1(Vector256.Sum(a0) + Tail(w, x, r, cols, vecCols), r, wScales, xScale, bias, y);
        }
    }

    /// <summary>Sums each of four 8-lane accumulators into one lane: <c>[sum a0, sum a1, sum a2, sum a3]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Reduce4(Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3)
    {
        // hadd(a0, a1) per 128-bit lane = [a0 pair sums, a1 pair sums]; a second hadd leaves one partial
        // sum per row in each 128-bit half; adding the halves finishes.
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>Scalar columns <c>from..cols-1</c> of row r, signed (AVX2/AVX-512 paths).</summary>
    private static int Tail(ReadOnlySpan<sbyte> w, ReadOnlySpan<sbyte> x, int r, int cols, int from)
    {
        int s = 0;
        for (int c = from; c < cols; c++) s += w[r * cols + c] * x[c];
        return s;
    }

    /// <summary>Scalar columns of row r with the VNNI path's bias: <c>(x + 128) * w</c>, matching the row-sum correction.</summary>
    private static int TailBiased(ReadOnlySpan<sbyte> w, ReadOnlySpan<sbyte> x, int r, int cols, int from)
    {
        int s = 0;
        for (int c = from; c < cols; c++) s += w[r * cols + c] * (x[c] + 128);
        return s;
    }
}
