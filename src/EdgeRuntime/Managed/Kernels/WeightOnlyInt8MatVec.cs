using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// int8 weights times float32 activations (the <see cref="ActivationPrecision.Float32"/> mode): the
/// weights stay one byte each in memory (a quarter of the traffic of float weights) and are widened to
/// float in registers. Weights are packed column by column in groups of 16 rows
/// (<see cref="ColumnPackedInt8Matrix"/>), so the rows are the vector lanes. For each row:
/// <code>
/// acc[k % 4] = fma((float)w[r, k], x[k], acc[k % 4])   for k = 0, 1, ... in order   # no activation rounding
/// y[r]       = fma((acc[0] + acc[1]) + (acc[2] + acc[3]), wScale[r], bias[r])
/// </code>
/// (four partial sums: four independent multiply-add chains per row instead of one latency-bound chain).
/// Every path runs the same operations in the same order per row, so all paths give bit-identical results.
/// This is the dequantized product <c>sum_k (w scale) x</c> up to float rounding (it factors the row's
/// scale out), which is what ONNX Runtime and DirectML compute from the same file.
/// </summary>
internal static partial class WeightOnlyInt8MatVec
{
    private const int GroupRows = ColumnPackedInt8Matrix.GroupRows;

    /// <summary>The instruction paths, from portable to fastest.</summary>
    public enum Path
    {
        /// <summary>Plain C# loops: the reference.</summary>
        Scalar,
        /// <summary>AVX2 + FMA: each group as two 8-lane halves.</summary>
        Avx2,
        /// <summary>AVX-512F: a group per register.</summary>
        Avx512,
    }

    /// <summary>The fastest path this CPU supports.</summary>
    public static Path Best { get; } = Avx512F.IsSupported ? Path.Avx512 : Avx2.IsSupported && Fma.IsSupported ? Path.Avx2 : Path.Scalar;

    /// <summary>Whether <paramref name="path"/> can run on this CPU.</summary>
    public static bool IsSupported(Path path) => path switch
    {
        Path.Scalar => true,
        Path.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        Path.Avx512 => Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>Computes <c>y[r]</c> for the rows of groups <paramref name="g0"/>..<paramref name="g1"/>-1 on the fastest path.</summary>
    public static void Compute(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y) =>
        Compute(Best, m, g0, g1, x, y);

    /// <summary>Computes <c>y[r]</c> for the rows of groups <paramref name="g0"/>..<paramref name="g1"/>-1 on <paramref name="path"/>.</summary>
    /// <param name="path">The instruction path.</param>
    /// <param name="m">The packed weights, scales and bias.</param>
    /// <param name="g0">First group.</param>
    /// <param name="g1">One past the last group.</param>
    /// <param name="x">Activations <c>[m.Cols]</c>.</param>
    /// <param name="y">Destination <c>[m.Rows]</c>; only the chosen rows are written.</param>
    public static void Compute(Path path, ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        Validate(m, g0, g1, x.Length, y.Length);
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"The {path} path is not supported on this CPU.");
        switch (path)
        {
            case Path.Avx512: ComputeAvx512(m, g0, g1, x, y); break;
            case Path.Avx2: ComputeAvx2(m, g0, g1, x, y); break;
            default: ComputeScalar(m, g0, g1, x, y); break;
        }
    }

    private static void Validate(ColumnPackedInt8Matrix m, int g0, int g1, int xLength, int yLength)
    {
        if (xLength != m.Cols) throw new ArgumentException($"x has {xLength} elements per token, expected {m.Cols}.", "x");
        if (yLength != m.Rows) throw new ArgumentException($"y has {yLength} elements per token, expected {m.Rows}.", "y");
        if (g0 < 0 || g1 > m.Groups || g0 > g1) throw new ArgumentOutOfRangeException(nameof(g0), $"Groups {g0}..{g1} are outside 0..{m.Groups}.");
    }

    private static void ComputeScalar(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        ReadOnlySpan<sbyte> data = m.Data.Span;   // once: the indexer re-reads the wrapper per element
        for (int r = g0 * GroupRows; r < Math.Min(m.Rows, g1 * GroupRows); r++)
        {
            float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
            long at = (long)(r / GroupRows) * cols * GroupRows + r % GroupRows;
            for (int k = 0; k < cols; k++)
            {
                float p = data[(int)(at + (long)k * GroupRows)];
                switch (k % 4)
                {
                    case 0: a0 = MathF.FusedMultiplyAdd(p, x[k], a0); break;
                    case 1: a1 = MathF.FusedMultiplyAdd(p, x[k], a1); break;
                    case 2: a2 = MathF.FusedMultiplyAdd(p, x[k], a2); break;
                    default: a3 = MathF.FusedMultiplyAdd(p, x[k], a3); break;
                }
            }
            y[r] = MathF.FusedMultiplyAdd((a0 + a1) + (a2 + a3), m.Scales[r], m.Bias[r]);
        }
    }

    /// <summary>One group per iteration: four 16-lane partial sums (k mod 4), four independent FMA chains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ComputeAvx512(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        nint groupBytes = (nint)cols * GroupRows;
        sbyte* pinned = m.Data.Pointer;   // a raw address for the prefetches, which may point past the array's end
        for (int g = g0; g < g1; g++)
        {
            sbyte* group = pinned + g * groupBytes;
            ref sbyte a = ref *group;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            int k = 0;
            // Walk the weights and activations by reference (no index arithmetic in the loop body).
            ref sbyte wk = ref a;
            ref float xk = ref x0;
            for (; k + 4 <= cols; k += 4)
            {
                Sse.Prefetch0(group + k * GroupRows + Avx512PrefetchBytes);   // one cache line per iteration
                s0 = Avx512F.FusedMultiplyAdd(Widen512(ref wk, 0), Vector512.Create(xk), s0);
                s1 = Avx512F.FusedMultiplyAdd(Widen512(ref wk, 1), Vector512.Create(Unsafe.Add(ref xk, 1)), s1);
                s2 = Avx512F.FusedMultiplyAdd(Widen512(ref wk, 2), Vector512.Create(Unsafe.Add(ref xk, 2)), s2);
                s3 = Avx512F.FusedMultiplyAdd(Widen512(ref wk, 3), Vector512.Create(Unsafe.Add(ref xk, 3)), s3);
                wk = ref Unsafe.Add(ref wk, 4 * GroupRows);
                xk = ref Unsafe.Add(ref xk, 4);
            }
            if (k < cols) s0 = Avx512F.FusedMultiplyAdd(Widen512(ref a, k), Vector512.Create(Unsafe.Add(ref x0, k)), s0);
            if (k + 1 < cols) s1 = Avx512F.FusedMultiplyAdd(Widen512(ref a, k + 1), Vector512.Create(Unsafe.Add(ref x0, k + 1)), s1);
            if (k + 2 < cols) s2 = Avx512F.FusedMultiplyAdd(Widen512(ref a, k + 2), Vector512.Create(Unsafe.Add(ref x0, k + 2)), s2);
            var sum = (s0 + s1) + (s2 + s3);
            RowEpilogue.Store8(sum.GetLower(), m.Scales, m.Bias, g * GroupRows, y);
            RowEpilogue.Store8(sum.GetUpper(), m.Scales, m.Bias, g * GroupRows + 8, y);
        }
    }

    /// <summary>Column k of a 16-row group as 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen512(ref sbyte group, int k) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref group, (nuint)(k * GroupRows))));

    /// <summary>How far ahead of its loads the AVX2 kernel prefetches weights (as <c>Int8MatVec</c>'s AVX2 kernel: in decode
    /// the weights stream from DRAM; at 85M, float-activation decode ran 1.31-1.53x faster in four interleaved rounds
    /// against none, docs/BENCHMARKS.md "Prefetching the weights").</summary>
    private const int PrefetchBytes = 4096;

    /// <summary>The AVX-512 kernel's prefetch distance, measured on a Zen 5 (AVX-512 + VNNI): 85M float-activation decode
    /// at 8 KiB ahead ran 1.05-1.15x faster than with none in three interleaved rounds, and ahead of 4 KiB in all three.</summary>
    private const int Avx512PrefetchBytes = 8192;

    /// <summary>One group per iteration as two 8-lane halves, each with four partial sums (eight FMA chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ComputeAvx2(ColumnPackedInt8Matrix m, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        nint groupBytes = (nint)cols * GroupRows;
        sbyte* pinned = m.Data.Pointer;   // a raw address for the prefetches, which may point past the array's end
        bool nonTemporal = m.PrefetchesNonTemporal;
        for (int g = g0; g < g1; g++)
        {
            sbyte* group = pinned + g * groupBytes;
            Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
            int k = 0;
            for (; k + 4 <= cols; k += 4)
            {
                // One cache line per iteration, 4 KiB ahead.
                if (nonTemporal) Sse.PrefetchNonTemporal(group + k * GroupRows + PrefetchBytes);
                else Sse.Prefetch0(group + k * GroupRows + PrefetchBytes);
                Step(group, ref x0, k, ref l0, ref h0);
                Step(group, ref x0, k + 1, ref l1, ref h1);
                Step(group, ref x0, k + 2, ref l2, ref h2);
                Step(group, ref x0, k + 3, ref l3, ref h3);
            }
            if (k < cols) Step(group, ref x0, k, ref l0, ref h0);
            if (k + 1 < cols) Step(group, ref x0, k + 1, ref l1, ref h1);
            if (k + 2 < cols) Step(group, ref x0, k + 2, ref l2, ref h2);
            RowEpilogue.Store8((l0 + l1) + (l2 + l3), m.Scales, m.Bias, g * GroupRows, y);
            RowEpilogue.Store8((h0 + h1) + (h2 + h3), m.Scales, m.Bias, g * GroupRows + 8, y);
        }
    }

    /// <summary>Adds column k of a 16-row group times x[k] into the low (rows 0-7) and high (rows 8-15) sums. Each half is
    /// sign-extended straight from memory (<c>vpmovsxbd ymm, [mem]</c>): against one 16-byte load, a byte shift and two
    /// register extensions, the d256 float32-activation decode ran 5-15% faster and the default model's 4-10%
    /// (docs/BENCHMARKS.md, "Eighteenth session").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Step(sbyte* group, ref float x0, int k, ref Vector256<float> lo, ref Vector256<float> hi)
    {
        var xk = Vector256.Create(Unsafe.Add(ref x0, k));
        sbyte* w = group + k * GroupRows;
        lo = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w)), xk, lo);
        hi = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + 8)), xk, hi);
    }
}
