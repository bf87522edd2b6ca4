using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// int8 weights times float32 activations (the <see cref="ActivationPrecision.Float32"/> mode): the
/// weights stay one byte each in memory (a quarter of the traffic of float weights) and are widened to
/// float in registers. Weights are packed column by column in groups of 16 rows,
/// <c>Data[(g * Cols + k) * 16 + rr] = w[16 g + rr, k]</c>, so one 16-byte load is one column of 16 rows and
/// the rows are the vector lanes. For each row:
/// <code>
/// acc  = fma((float)w[r, k], x[k], acc)    for k = 0, 1, ... in order    # no activation rounding
/// y[r] = fma(acc, wScale[r], bias[r])
/// </code>
/// Every path runs the same operations in the same order per row, so all paths give bit-identical results.
/// This is the dequantized product <c>sum_k (w scale) x</c> up to float rounding (it factors the row's
/// scale out), which is what ONNX Runtime and DirectML compute from the same file.
/// </summary>
internal static class WeightOnlyInt8MatVec
{
    /// <summary>Rows per group: one 512-bit register of floats.</summary>
    public const int GroupRows = 16;

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

    /// <summary>Packs <paramref name="w"/> (<c>[rows, cols]</c>, row-major) into groups of 16 rows, zero-padded.</summary>
    public static sbyte[] Pack(ReadOnlySpan<sbyte> w, int rows, int cols)
    {
        if (rows < 1 || cols < 1 || w.Length != (long)rows * cols) throw new ArgumentException($"{w.Length} weights do not form a {rows}x{cols} matrix.", nameof(w));
        int groups = (rows + GroupRows - 1) / GroupRows;
        var data = new sbyte[(long)groups * GroupRows * cols];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++)
                data[((long)(r / GroupRows) * cols + k) * GroupRows + r % GroupRows] = w[r * cols + k];
        return data;
    }

    /// <summary>Computes <c>y[r]</c> for the rows of groups <paramref name="g0"/>..<paramref name="g1"/>-1 on the fastest path.</summary>
    public static void Compute(sbyte[] data, float[] scales, float[] bias, int rows, int g0, int g1, ReadOnlySpan<float> x, Span<float> y) =>
        Compute(Best, data, scales, bias, rows, g0, g1, x, y);

    /// <summary>Computes <c>y[r]</c> for the rows of groups <paramref name="g0"/>..<paramref name="g1"/>-1 on <paramref name="path"/>.</summary>
    /// <param name="path">The instruction path.</param>
    /// <param name="data">Packed weights from <see cref="Pack"/>.</param>
    /// <param name="scales">Per-row weight scales, padded to whole groups.</param>
    /// <param name="bias">Per-row bias (zeros for none), padded to whole groups.</param>
    /// <param name="rows">Real rows (the rest of the last group is padding).</param>
    /// <param name="g0">First group.</param>
    /// <param name="g1">One past the last group.</param>
    /// <param name="x">Activations <c>[cols]</c>.</param>
    /// <param name="y">Destination <c>[rows]</c>; only the chosen rows are written.</param>
    public static void Compute(Path path, sbyte[] data, float[] scales, float[] bias, int rows, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length, groups = (rows + GroupRows - 1) / GroupRows;
        if (cols < 1 || data.Length != (long)groups * GroupRows * cols) throw new ArgumentException($"Packed data holds {data.Length} weights, not {rows} rows x {cols} columns.", nameof(data));
        if (scales.Length != groups * GroupRows || bias.Length != groups * GroupRows) throw new ArgumentException("Scales and bias must be padded to whole groups.", nameof(scales));
        if (y.Length != rows) throw new ArgumentException($"y has {y.Length} elements, expected {rows}.", nameof(y));
        if (g0 < 0 || g1 > groups || g0 > g1) throw new ArgumentOutOfRangeException(nameof(g0), $"Groups {g0}..{g1} are outside 0..{groups}.");
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"The {path} path is not supported on this CPU.");
        switch (path)
        {
            case Path.Avx512: ComputeAvx512(data, scales, bias, rows, g0, g1, x, y); break;
            case Path.Avx2: ComputeAvx2(data, scales, bias, rows, g0, g1, x, y); break;
            default: ComputeScalar(data, scales, bias, rows, g0, g1, x, y); break;
        }
    }

    private static void ComputeScalar(sbyte[] data, float[] scales, float[] bias, int rows, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        for (int r = g0 * GroupRows; r < Math.Min(rows, g1 * GroupRows); r++)
        {
            float acc = 0f;
            long at = (long)(r / GroupRows) * cols * GroupRows + r % GroupRows;
            for (int k = 0; k < cols; k++) acc = MathF.FusedMultiplyAdd(data[at + (long)k * GroupRows], x[k], acc);
            y[r] = MathF.FusedMultiplyAdd(acc, scales[r], bias[r]);
        }
    }

    /// <summary>Two groups at a time: two independent FMA chains hide the latency of each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeAvx512(sbyte[] data, float[] scales, float[] bias, int rows, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        ref sbyte d0 = ref MemoryMarshal.GetArrayDataReference(data);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        nint groupBytes = (nint)cols * GroupRows;
        int g = g0;
        for (; g + 2 <= g1; g += 2)
        {
            ref sbyte a = ref Unsafe.Add(ref d0, g * groupBytes);
            ref sbyte b = ref Unsafe.Add(ref a, groupBytes);
            Vector512<float> fa = default, fb = default;
            for (int k = 0; k < cols; k++)
            {
                var xk = Vector512.Create(Unsafe.Add(ref x0, k));
                fa = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref a, (nuint)(k * GroupRows)))), xk, fa);
                fb = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref b, (nuint)(k * GroupRows)))), xk, fb);
            }
            Store(fa.GetLower(), scales, bias, g * GroupRows, y);
            Store(fa.GetUpper(), scales, bias, g * GroupRows + 8, y);
            Store(fb.GetLower(), scales, bias, (g + 1) * GroupRows, y);
            Store(fb.GetUpper(), scales, bias, (g + 1) * GroupRows + 8, y);
        }
        if (g < g1) ComputeAvx2(data, scales, bias, rows, g, g1, x, y);
    }

    /// <summary>One group at a time as two 8-lane halves (two independent FMA chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeAvx2(sbyte[] data, float[] scales, float[] bias, int rows, int g0, int g1, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        ref sbyte d0 = ref MemoryMarshal.GetArrayDataReference(data);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        nint groupBytes = (nint)cols * GroupRows;
        for (int g = g0; g < g1; g++)
        {
            ref sbyte a = ref Unsafe.Add(ref d0, g * groupBytes);
            Vector256<float> lo = default, hi = default;
            for (int k = 0; k < cols; k++)
            {
                var xk = Vector256.Create(Unsafe.Add(ref x0, k));
                var w = Vector128.LoadUnsafe(ref a, (nuint)(k * GroupRows));
                lo = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w)), xk, lo);
                hi = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(w, 8))), xk, hi);
            }
            Store(lo, scales, bias, g * GroupRows, y);
            Store(hi, scales, bias, g * GroupRows + 8, y);
        }
    }

    /// <summary><c>y[r0 .. r0+7] = fma(acc, scale, bias)</c> for the real rows among them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> acc, float[] scales, float[] bias, int r0, Span<float> y)
    {
        var v = Vector256.FusedMultiplyAdd(acc, Vector256.Create(scales.AsSpan(r0, 8)), Vector256.Create(bias.AsSpan(r0, 8)));
        if (r0 + 8 <= y.Length) v.StoreUnsafe(ref MemoryMarshal.GetReference(y), (nuint)r0);
        else for (int i = 0; r0 + i < y.Length; i++) y[r0 + i] = v[i];
    }
}
