using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The prefill GEMM on AVX-VNNI: the stored bytes (w + 128) go straight into vpdpbusd, so one instruction does
// a step's 32 multiply-adds for one token (the AVX2 sign trick needs four). Each block sum then carries
// 128 * sum(x) for its token, which the token's block offset removes, exactly as ComputeAvxVnni does: the
// integers, and so the floats after them, are those of the per-token paths.
internal static partial class Int8MatVec
{
    /// <summary>Two row groups x eight tokens per pass, the fast tile: each broadcast of a token's 4 activations feeds two
    /// instructions, and the 16 int32 sums fill half the registers, so the 16 float sums wait on the stack (touched once
    /// per block). 1.2x the one-group tile in <c>ManagedBench gemm</c> (172-188 against 141-151 GMAC/s on one Zen 5 thread).
    /// An odd last group (rows % 16 in 1..8; the row splits keep pairs together) runs the AVX2 tile, which gives the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8TwoGroupsVnni(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales,
        ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize, rows = m.Rows;
        nint groupBytes = (nint)P * PackedInt8Matrix.GroupRows;
        nint xRow = P / 4;
        ref byte w0 = ref m.Data.Reference;
        ref int x0 = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(x));
        ref float scales = ref MemoryMarshal.GetReference(xScales);
        ref int offsets = ref MemoryMarshal.GetReference(xOffsets);
        Span<Vector256<float>> f = stackalloc Vector256<float>[16];
        int g = g0;
        for (; g + 2 <= g1; g += 2)
        {
            ref byte wg = ref Unsafe.Add(ref w0, g * groupBytes);
            f.Clear();
            for (int b = 0; b < blocks; b++)
            {
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                Vector256<int> t0 = default, t1 = default, t2 = default, t3 = default, t4 = default, t5 = default, t6 = default, t7 = default;
                ref int xk = ref Unsafe.Add(ref x0, b * 8);
                ref byte wa = ref Unsafe.Add(ref wg, b * 256);
                ref byte wb = ref Unsafe.Add(ref wa, groupBytes);
                for (int j = 0; j < 8; j++)
                {
                    var w = Vector256.LoadUnsafe(ref Unsafe.Add(ref wa, j * 32));
                    var v = Vector256.LoadUnsafe(ref Unsafe.Add(ref wb, j * 32));
                    ref int xj = ref Unsafe.Add(ref xk, j);
                    var xt = Vector256.Create(xj).AsSByte();
                    s0 = AvxVnni.MultiplyWideningAndAdd(s0, w, xt); t0 = AvxVnni.MultiplyWideningAndAdd(t0, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, xRow)).AsSByte();
                    s1 = AvxVnni.MultiplyWideningAndAdd(s1, w, xt); t1 = AvxVnni.MultiplyWideningAndAdd(t1, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 2 * xRow)).AsSByte();
                    s2 = AvxVnni.MultiplyWideningAndAdd(s2, w, xt); t2 = AvxVnni.MultiplyWideningAndAdd(t2, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 3 * xRow)).AsSByte();
                    s3 = AvxVnni.MultiplyWideningAndAdd(s3, w, xt); t3 = AvxVnni.MultiplyWideningAndAdd(t3, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 4 * xRow)).AsSByte();
                    s4 = AvxVnni.MultiplyWideningAndAdd(s4, w, xt); t4 = AvxVnni.MultiplyWideningAndAdd(t4, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 5 * xRow)).AsSByte();
                    s5 = AvxVnni.MultiplyWideningAndAdd(s5, w, xt); t5 = AvxVnni.MultiplyWideningAndAdd(t5, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 6 * xRow)).AsSByte();
                    s6 = AvxVnni.MultiplyWideningAndAdd(s6, w, xt); t6 = AvxVnni.MultiplyWideningAndAdd(t6, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 7 * xRow)).AsSByte();
                    s7 = AvxVnni.MultiplyWideningAndAdd(s7, w, xt); t7 = AvxVnni.MultiplyWideningAndAdd(t7, v, xt);
                }
                f[0] = OffsetBlockEpilogue(s0, ref scales, ref offsets, b, f[0]);
                f[1] = OffsetBlockEpilogue(s1, ref scales, ref offsets, blocks + b, f[1]);
                f[2] = OffsetBlockEpilogue(s2, ref scales, ref offsets, 2 * blocks + b, f[2]);
                f[3] = OffsetBlockEpilogue(s3, ref scales, ref offsets, 3 * blocks + b, f[3]);
                f[4] = OffsetBlockEpilogue(s4, ref scales, ref offsets, 4 * blocks + b, f[4]);
                f[5] = OffsetBlockEpilogue(s5, ref scales, ref offsets, 5 * blocks + b, f[5]);
                f[6] = OffsetBlockEpilogue(s6, ref scales, ref offsets, 6 * blocks + b, f[6]);
                f[7] = OffsetBlockEpilogue(s7, ref scales, ref offsets, 7 * blocks + b, f[7]);
                f[8] = OffsetBlockEpilogue(t0, ref scales, ref offsets, b, f[8]);
                f[9] = OffsetBlockEpilogue(t1, ref scales, ref offsets, blocks + b, f[9]);
                f[10] = OffsetBlockEpilogue(t2, ref scales, ref offsets, 2 * blocks + b, f[10]);
                f[11] = OffsetBlockEpilogue(t3, ref scales, ref offsets, 3 * blocks + b, f[11]);
                f[12] = OffsetBlockEpilogue(t4, ref scales, ref offsets, 4 * blocks + b, f[12]);
                f[13] = OffsetBlockEpilogue(t5, ref scales, ref offsets, 5 * blocks + b, f[13]);
                f[14] = OffsetBlockEpilogue(t6, ref scales, ref offsets, 6 * blocks + b, f[14]);
                f[15] = OffsetBlockEpilogue(t7, ref scales, ref offsets, 7 * blocks + b, f[15]);
            }
            int r0 = g * PackedInt8Matrix.GroupRows;
            for (int t = 0; t < 8; t++)
            {
                RowEpilogue.Store8(f[t], m.Scales, m.Bias, r0, y.Slice(t * rows, rows));
                RowEpilogue.Store8(f[8 + t], m.Scales, m.Bias, r0 + PackedInt8Matrix.GroupRows, y.Slice(t * rows, rows));
            }
        }
        if (g < g1) Tile8Avx2(m, g, g1, x, xScales, y);
    }

    /// <summary>One token's block epilogue on biased sums, as <see cref="ComputeAvxVnni"/> does it:
    /// <c>f = fma((float)(s_b - offset_b), scale_b, f)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> OffsetBlockEpilogue(Vector256<int> sums, ref float scales, ref int offsets, int at, Vector256<float> f) =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums - Vector256.Create(Unsafe.Add(ref offsets, at))), Vector256.Create(Unsafe.Add(ref scales, at)), f);
}
