using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// Prefill as a GEMM for float32 activations: several token rows pass over each widened weight column, so the
// int8-to-float conversions (the cost of this kernel in cache) are paid once per tile instead of once per token.
// Each (row, token) keeps its own four partial sums (k mod 4) and the same epilogue as Compute, so every token's
// outputs are bit-identical to a Compute call on its own row (tests compare them with the scalar reference).
internal static partial class WeightOnlyInt8MatVec
{
    /// <summary>As <see cref="Compute(ColumnPackedInt8Matrix, int, int, ReadOnlySpan{float}, Span{float})"/> for
    /// <paramref name="count"/> token rows at once (x <c>[count, cols]</c>, y <c>[count, rows]</c>), bit-identical to
    /// one call per row. With AVX-512 two tokens share each widened weight column; with AVX2 (no AVX-512) six tokens
    /// share each widened half column (<see cref="Tile6Avx2"/>), then three (<see cref="Tile3Avx2"/>).</summary>
    public static void ComputeBatch(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, int count, Span<float> y)
    {
        int rows = m.Rows, cols = m.Cols, t = 0;
        if (count < 1 || x.Length != (long)count * cols || y.Length != (long)count * rows) throw new ArgumentException($"x and y must hold {count} token rows each.", nameof(x));
        Validate(m, g0, g1, cols, rows);
        if (Best == Path.Avx512)
            for (; t + 2 <= count; t += 2)
                ComputeAvx512Pair(m, g0, g1, x.Slice(t * cols, 2 * cols), y.Slice(t * rows, 2 * rows));
        else if (Best == Path.Avx2)
        {
            for (; t + 6 <= count; t += 6)
                Tile6Avx2(m, g0, g1, x.Slice(t * cols, 6 * cols), y.Slice(t * rows, 6 * rows));
            for (; t + 3 <= count; t += 3)
                Tile3Avx2(m, g0, g1, x.Slice(t * cols, 3 * cols), y.Slice(t * rows, 3 * rows));
        }
        for (; t < count; t++) Compute(m, g0, g1, x.Slice(t * cols, cols), y.Slice(t * rows, rows));
    }

    /// <summary>Two tokens per group pass: each widened column feeds both tokens' four partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeAvx512Pair(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = m.Rows, cols = m.Cols;
        ref sbyte d0 = ref m.Data.Reference;
        ref float xa = ref MemoryMarshal.GetReference(x);
        ref float xb = ref Unsafe.Add(ref xa, cols);
        nint groupBytes = (nint)cols * GroupRows;
        for (int g = g0; g < g1; g++)
        {
            ref sbyte a = ref Unsafe.Add(ref d0, g * groupBytes);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            int k = 0;
            ref sbyte wk = ref a;
            ref float pa = ref xa, pb = ref xb;
            for (; k + 4 <= cols; k += 4)
            {
                var w0 = Widen512(ref wk, 0);
                a0 = Avx512F.FusedMultiplyAdd(w0, Vector512.Create(pa), a0);
                b0 = Avx512F.FusedMultiplyAdd(w0, Vector512.Create(pb), b0);
                var w1 = Widen512(ref wk, 1);
                a1 = Avx512F.FusedMultiplyAdd(w1, Vector512.Create(Unsafe.Add(ref pa, 1)), a1);
                b1 = Avx512F.FusedMultiplyAdd(w1, Vector512.Create(Unsafe.Add(ref pb, 1)), b1);
                var w2 = Widen512(ref wk, 2);
                a2 = Avx512F.FusedMultiplyAdd(w2, Vector512.Create(Unsafe.Add(ref pa, 2)), a2);
                b2 = Avx512F.FusedMultiplyAdd(w2, Vector512.Create(Unsafe.Add(ref pb, 2)), b2);
                var w3 = Widen512(ref wk, 3);
                a3 = Avx512F.FusedMultiplyAdd(w3, Vector512.Create(Unsafe.Add(ref pa, 3)), a3);
                b3 = Avx512F.FusedMultiplyAdd(w3, Vector512.Create(Unsafe.Add(ref pb, 3)), b3);
                wk = ref Unsafe.Add(ref wk, 4 * GroupRows);
                pa = ref Unsafe.Add(ref pa, 4);
                pb = ref Unsafe.Add(ref pb, 4);
            }
            for (int j = 0; k + j < cols; j++)
            {
                var w = Widen512(ref a, k + j);
                var ta = Avx512F.FusedMultiplyAdd(w, Vector512.Create(Unsafe.Add(ref xa, k + j)), j == 0 ? a0 : j == 1 ? a1 : a2);
                var tb = Avx512F.FusedMultiplyAdd(w, Vector512.Create(Unsafe.Add(ref xb, k + j)), j == 0 ? b0 : j == 1 ? b1 : b2);
                if (j == 0) { a0 = ta; b0 = tb; } else if (j == 1) { a1 = ta; b1 = tb; } else { a2 = ta; b2 = tb; }
            }
            var sa = (a0 + a1) + (a2 + a3);
            var sb = (b0 + b1) + (b2 + b3);
            var ya = y[..rows];
            var yb = y[rows..];
            RowEpilogue.Store8(sa.GetLower(), m.Scales, m.Bias, g * GroupRows, ya);
            RowEpilogue.Store8(sa.GetUpper(), m.Scales, m.Bias, g * GroupRows + 8, ya);
            RowEpilogue.Store8(sb.GetLower(), m.Scales, m.Bias, g * GroupRows, yb);
            RowEpilogue.Store8(sb.GetUpper(), m.Scales, m.Bias, g * GroupRows + 8, yb);
        }
    }

    /// <summary>Six tokens per pass over each 16-row group, one of the four partial sums at a time: sum c (0..3) adds the
    /// columns k = c mod 4 in increasing order, as <c>Compute</c>'s chain c does, so 6 tokens x 2 halves take 12 registers
    /// where all four sums at once would take 48. The four sums wait on the stack and are added as <c>Compute</c> adds them.
    /// Each widened column half then feeds six multiply-adds instead of three (<see cref="Tile3Avx2"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Tile6Avx2(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = m.Rows, cols = m.Cols;
        Vector256<float>* sums = stackalloc Vector256<float>[4 * 12];   // [partial sum c, token t, half h] at 12 c + 2 t + h
        nint groupBytes = (nint)cols * GroupRows;
        fixed (float* xp = x)
        {
            for (int g = g0; g < g1; g++)
            {
                sbyte* group = m.Data.Pointer + g * groupBytes;
                for (int c = 0; c < 4; c++) SixTokenPass(group, xp, cols, c, sums + 12 * c);
                for (int t = 0; t < 6; t++)
                    for (int h = 0; h < 2; h++)
                    {
                        int i = 2 * t + h;
                        RowEpilogue.Store8((sums[i] + sums[12 + i]) + (sums[24 + i] + sums[36 + i]), m.Scales, m.Bias, g * GroupRows + 8 * h, y.Slice(t * rows, rows));
                    }
            }
        }
    }

    /// <summary>Partial sum <paramref name="c"/> of <see cref="Tile6Avx2"/>'s six tokens for one group, into 12 vectors at
    /// <paramref name="sums"/>: a method of its own so that the six row pointers stay in registers (inside the tile the JIT
    /// reloaded them from the stack at every column).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void SixTokenPass(sbyte* group, float* x, int cols, int c, Vector256<float>* sums)
    {
        float* xa = x, xb = xa + cols, xc = xb + cols, xd = xc + cols, xe = xd + cols, xf = xe + cols;
        Vector256<float> al = default, ah = default, bl = default, bh = default, cl = default, ch = default,
            dl = default, dh = default, el = default, eh = default, fl = default, fh = default;
        for (int k = c; k < cols; k += 4)
        {
            sbyte* w = group + k * GroupRows;
            var lo = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w));
            var hi = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + 8));
            var xk = Vector256.Create(xa[k]);
            al = Fma.MultiplyAdd(lo, xk, al); ah = Fma.MultiplyAdd(hi, xk, ah);
            xk = Vector256.Create(xb[k]);
            bl = Fma.MultiplyAdd(lo, xk, bl); bh = Fma.MultiplyAdd(hi, xk, bh);
            xk = Vector256.Create(xc[k]);
            cl = Fma.MultiplyAdd(lo, xk, cl); ch = Fma.MultiplyAdd(hi, xk, ch);
            xk = Vector256.Create(xd[k]);
            dl = Fma.MultiplyAdd(lo, xk, dl); dh = Fma.MultiplyAdd(hi, xk, dh);
            xk = Vector256.Create(xe[k]);
            el = Fma.MultiplyAdd(lo, xk, el); eh = Fma.MultiplyAdd(hi, xk, eh);
            xk = Vector256.Create(xf[k]);
            fl = Fma.MultiplyAdd(lo, xk, fl); fh = Fma.MultiplyAdd(hi, xk, fh);
        }
        sums[0] = al; sums[1] = ah; sums[2] = bl; sums[3] = bh; sums[4] = cl; sums[5] = ch;
        sums[6] = dl; sums[7] = dh; sums[8] = el; sums[9] = eh; sums[10] = fl; sums[11] = fh;
    }

    /// <summary>Three tokens per pass, each 16-row group as two 8-row halves: per half, 3 tokens x 4 partial sums
    /// (12 registers) plus the widened column and a broadcast fill the 16 AVX2 registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile3Avx2(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = m.Rows, cols = m.Cols;
        ref sbyte d0 = ref m.Data.Reference;
        ref float xa = ref MemoryMarshal.GetReference(x);
        ref float xb = ref Unsafe.Add(ref xa, cols);
        ref float xc = ref Unsafe.Add(ref xb, cols);
        nint groupBytes = (nint)cols * GroupRows;
        for (int g = g0; g < g1; g++)
        {
            for (int half = 0; half < 2; half++)
            {
                ref sbyte h = ref Unsafe.Add(ref d0, g * groupBytes + half * 8);
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default,
                    c0 = default, c1 = default, c2 = default, c3 = default;
                int k = 0;
                for (; k + 4 <= cols; k += 4)
                {
                    var w = Widen8(ref h, k);
                    a0 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xa, k)), a0);
                    b0 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xb, k)), b0);
                    c0 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xc, k)), c0);
                    w = Widen8(ref h, k + 1);
                    a1 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xa, k + 1)), a1);
                    b1 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xb, k + 1)), b1);
                    c1 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xc, k + 1)), c1);
                    w = Widen8(ref h, k + 2);
                    a2 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xa, k + 2)), a2);
                    b2 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xb, k + 2)), b2);
                    c2 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xc, k + 2)), c2);
                    w = Widen8(ref h, k + 3);
                    a3 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xa, k + 3)), a3);
                    b3 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xb, k + 3)), b3);
                    c3 = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xc, k + 3)), c3);
                }
                for (int j = 0; k + j < cols; j++)   // at most 3 tail columns, into partial sums 0..2 as Compute does
                {
                    var w = Widen8(ref h, k + j);
                    var ta = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xa, k + j)), j == 0 ? a0 : j == 1 ? a1 : a2);
                    var tb = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xb, k + j)), j == 0 ? b0 : j == 1 ? b1 : b2);
                    var tc = Fma.MultiplyAdd(w, Vector256.Create(Unsafe.Add(ref xc, k + j)), j == 0 ? c0 : j == 1 ? c1 : c2);
                    if (j == 0) { a0 = ta; b0 = tb; c0 = tc; } else if (j == 1) { a1 = ta; b1 = tb; c1 = tc; } else { a2 = ta; b2 = tb; c2 = tc; }
                }
                int r0 = g * GroupRows + half * 8;
                RowEpilogue.Store8((a0 + a1) + (a2 + a3), m.Scales, m.Bias, r0, y[..rows]);
                RowEpilogue.Store8((b0 + b1) + (b2 + b3), m.Scales, m.Bias, r0, y.Slice(rows, rows));
                RowEpilogue.Store8((c0 + c1) + (c2 + c3), m.Scales, m.Bias, r0, y.Slice(2 * rows, rows));
            }
        }
    }

    /// <summary>8 rows of column k of a 16-row group (from <paramref name="half"/>, the group's first or ninth row) as 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen8(ref sbyte half, int k) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(
            Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref half, k * GroupRows)))).AsSByte()));
}
