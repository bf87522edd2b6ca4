using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// int8 matrix-vector product with a per-row weight scale and a per-token activation scale:
/// <c>y[r] = (float)(sum_i w[r, i] * x[i]) * (xScale * wScales[r]) + bias[r]</c>, with
/// <c>w</c> row-major <c>[rows, cols]</c> (PyTorch <c>[out, in]</c>), <c>x</c> <c>[cols]</c>, <c>y</c> <c>[rows]</c>.
/// The integer sum is exact in int32 for <c>cols &lt;= 2^17</c> (127 * 128 * 2^17 &lt; 2^31), so every
/// path produces the same integer and, through the same float epilogue, bit-identical outputs.
/// </summary>
internal static partial class Int8MatVec
{
    /// <summary>Largest supported <c>cols</c>: keeps the int32 accumulator exact on every path.</summary>
    public const int MaxCols = 1 << 17;

    /// <summary>The instruction paths, from portable to fastest.</summary>
    public enum Path
    {
        /// <summary>Plain C# loops: the reference every other path is tested against.</summary>
        Scalar,
        /// <summary>Portable <see cref="Vector128"/> (also ARM64 NEON): widen to int16, multiply, widen-add.</summary>
        Vector128,
        /// <summary>AVX2 <c>vpmaddwd</c> on sign-extended int16, 16 columns per step.</summary>
        Avx2,
        /// <summary>AVX-512BW <c>vpmaddwd</c> on 512-bit int16, 32 columns per step.</summary>
        Avx512BW,
        /// <summary>AVX-VNNI <c>vpdpbusd</c> (unsigned x signed), 32 columns per instruction.</summary>
        AvxVnni,
    }

    /// <summary>The fastest path this CPU supports.</summary>
    public static Path Best { get; } =
        AvxVnni.IsSupported ? Path.AvxVnni :
        Avx512BW.IsSupported ? Path.Avx512BW :
        Avx2.IsSupported ? Path.Avx2 :
        Vector128.IsHardwareAccelerated ? Path.Vector128 : Path.Scalar;

    /// <summary>Whether <paramref name="path"/> can run on this CPU.</summary>
    public static bool IsSupported(Path path) => path switch
    {
        Path.Scalar => true,
        Path.Vector128 => Vector128.IsHardwareAccelerated,
        Path.Avx2 => Avx2.IsSupported,
        Path.Avx512BW => Avx512BW.IsSupported,
        Path.AvxVnni => AvxVnni.IsSupported,
        _ => false,
    };

    /// <summary>Computes <c>y</c> on the fastest path; see the type summary for the formula.</summary>
    /// <param name="w">Row-major weights <c>[rows, cols]</c>, rows = <c>y.Length</c>, cols = <c>x.Length</c>.</param>
    /// <param name="rowSums">Per-row <c>sum_i w[r, i]</c> (used by the VNNI path's unsigned-activation trick).</param>
    /// <param name="wScales">Per-row weight scales <c>[rows]</c>.</param>
    /// <param name="x">Quantized activations <c>[cols]</c>, in [-127, 127].</param>
    /// <param name="xScale">The activations' scale: <c>x_float ~= x * xScale</c>.</param>
    /// <param name="bias">Bias <c>[rows]</c>, or empty for none.</param>
    /// <param name="y">Destination <c>[rows]</c>.</param>
    public static void Compute(ReadOnlySpan<sbyte> w, ReadOnlySpan<int> rowSums, ReadOnlySpan<float> wScales,
        ReadOnlySpan<sbyte> x, float xScale, ReadOnlySpan<float> bias, Span<float> y) =>
        Compute(Best, w, rowSums, wScales, x, xScale, bias, y);

    /// <summary>Computes <c>y</c> on a chosen path (tests compare every path to <see cref="Path.Scalar"/>).</summary>
    public static void Compute(Path path, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> rowSums, ReadOnlySpan<float> wScales,
        ReadOnlySpan<sbyte> x, float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        int rows = y.Length, cols = x.Length;
        if (cols > MaxCols) throw new ArgumentException($"cols = {cols} exceeds {MaxCols}: the int32 accumulator could overflow.", nameof(x));
        if (w.Length != (long)rows * cols) throw new ArgumentException($"w has {w.Length} elements, expected rows*cols = {rows}*{cols}.", nameof(w));
        if (rowSums.Length != rows) throw new ArgumentException($"rowSums has {rowSums.Length} elements, expected {rows}.", nameof(rowSums));
        if (wScales.Length != rows) throw new ArgumentException($"wScales has {wScales.Length} elements, expected {rows}.", nameof(wScales));
        if (bias.Length != 0 && bias.Length != rows) throw new ArgumentException($"bias has {bias.Length} elements, expected 0 or {rows}.", nameof(bias));
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"The {path} int8 path is not supported on this CPU.");
        if (rows == 0) return;

        switch (path)
        {
            case Path.AvxVnni: ComputeAvxVnni(w, rowSums, wScales, x, xScale, bias, y); break;
            case Path.Avx512BW: ComputeAvx512BW(w, wScales, x, xScale, bias, y); break;
            case Path.Avx2: ComputeAvx2(w, wScales, x, xScale, bias, y); break;
            case Path.Vector128: ComputeVector128(w, wScales, x, xScale, bias, y); break;
            default: ComputeScalar(w, wScales, x, xScale, bias, y); break;
        }
    }

    /// <summary>Per-row sums of a row-major <c>[rows, cols]</c> int8 matrix (the VNNI path's correction term).</summary>
    public static void RowSums(ReadOnlySpan<sbyte> w, int cols, Span<int> sums)
    {
        if (cols <= 0 || w.Length != (long)sums.Length * cols) throw new ArgumentException($"w has {w.Length} elements, expected {sums.Length}*{cols}.", nameof(w));
        for (int r = 0; r < sums.Length; r++)
        {
            int s = 0;
            foreach (sbyte v in w.Slice(r * cols, cols)) s += v;
            sums[r] = s;
        }
    }

    private static void ComputeScalar(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScales, ReadOnlySpan<sbyte> x,
        float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        int cols = x.Length;
        for (int r = 0; r < y.Length; r++)
        {
            var row = w.Slice(r * cols, cols);
            int acc = 0;
            for (int i = 0; i < cols; i++) acc += row[i] * x[i];
            Finish1(acc, r, wScales, xScale, bias, y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private static void ComputeVector128(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScales, ReadOnlySpan<sbyte> x,
        float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        int cols = x.Length, vecCols = cols & ~15;
        for (int r = 0; r < y.Length; r++)
        {
            var row = w.Slice(r * cols, cols);
            var acc = Vector128<int>.Zero;
            for (int c = 0; c < vecCols; c += 16)
            {
                // int8 x int8 fits int16 exactly (|p| <= 16384); widen the products to int32 before summing.
                var (wl, wh) = Vector128.Widen(Vector128.Create(row.Slice(c, 16)));
                var (xl, xh) = Vector128.Widen(Vector128.Create(x.Slice(c, 16)));
                var (p0, p1) = Vector128.Widen(wl * xl);
                var (p2, p3) = Vector128.Widen(wh * xh);
                acc += (p0 + p1) + (p2 + p3);
            }
            int s = Vector128.Sum(acc);
            for (int c = vecCols; c < cols; c++) s += row[c] * x[c];
            Finish1(s, r, wScales, xScale, bias, y);
        }
    }

    /// <summary>The shared epilogue for one row: <c>y[r] = acc * (xScale * wScales[r]) + bias[r]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish1(int acc, int r, ReadOnlySpan<float> wScales, float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        float v = acc * (xScale * wScales[r]);
        y[r] = bias.IsEmpty ? v : v + bias[r];
    }

    /// <summary>The same epilogue for rows r..r+3 (lane-wise identical to <see cref="Finish1"/>: no FMA contraction).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish4(Vector128<int> acc, int r, ReadOnlySpan<float> wScales, float xScale, ReadOnlySpan<float> bias, Span<float> y)
    {
        var v = Vector128.ConvertToSingle(acc) * (Vector128.Create(xScale) * Vector128.Create(wScales.Slice(r, 4)));
        if (!bias.IsEmpty) v += Vector128.Create(bias.Slice(r, 4));
        v.CopyTo(y.Slice(r, 4));
    }
}
