using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// int8 matrix-vector product over a <see cref="PackedInt8Matrix"/> and block-quantized activations
/// (<see cref="ActivationQuantizer"/>, blocks of 32). For each output row r:
/// <code>
/// s_b  = sum_{k in block b} (w[r, k] + 128) * q[k]  -  offset[b]      # exact int32 = sum w q over the block
/// acc  = fma((float)s_b, xScale[b], acc)        for b = 0, 1, ...     # in this order on every path
/// y[r] = fma(acc, wScale[r], bias[r])
/// </code>
/// Every path computes the same integers and then the same float operations in the same order, so all
/// paths give bit-identical outputs (tests compare each with <see cref="Path.Scalar"/>). Block integers
/// are bounded by 32 * 255 * 127, so no width can overflow.
/// </summary>
internal static partial class Int8MatVec
{
    /// <summary>The instruction paths, from portable to fastest.</summary>
    public enum Path
    {
        /// <summary>Plain C# loops: the reference every other path is tested against.</summary>
        Scalar,
        /// <summary>Portable <see cref="Vector128"/> (also ARM64 NEON): widen to int16, multiply, widen-add.</summary>
        Vector128,
        /// <summary>AVX2 <c>vpmaddwd</c> on widened bytes, 4 rows per instruction (CPUs without VNNI, e.g. Zen 2/3).</summary>
        Avx2,
        /// <summary>AVX-512BW <c>vpmaddwd</c> on 512-bit int16, 8 rows per instruction.</summary>
        Avx512BW,
        /// <summary>AVX-VNNI <c>vpdpbusd</c> (unsigned weights x signed activations), 8 rows x 4 columns per instruction.</summary>
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

    /// <summary>Computes rows of <c>y</c> on the fastest path; see the type summary for the formula.</summary>
    public static void Compute(PackedInt8Matrix m, int groupStart, int groupEnd, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y) =>
        Compute(Best, m, groupStart, groupEnd, x, xScales, xOffsets, y);

    /// <summary>Computes <c>y[r]</c> for the rows of groups <paramref name="groupStart"/>..<paramref name="groupEnd"/>-1
    /// (rows <c>8 groupStart .. min(8 groupEnd, Rows) - 1</c>) on a chosen path.</summary>
    /// <param name="path">The instruction path (must be supported, see <see cref="IsSupported(Path)"/>).</param>
    /// <param name="m">The packed weights.</param>
    /// <param name="groupStart">First row group.</param>
    /// <param name="groupEnd">One past the last row group.</param>
    /// <param name="x">Quantized activations <c>[m.PaddedCols]</c>, in [-127, 127], zero past <c>m.Cols</c>.</param>
    /// <param name="xScales">Activation scale per block <c>[m.PaddedCols / 32]</c>.</param>
    /// <param name="xOffsets"><c>128 * sum(q)</c> per block <c>[m.PaddedCols / 32]</c>.</param>
    /// <param name="y">Destination <c>[m.Rows]</c>; only the chosen rows are written.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Compute(Path path, PackedInt8Matrix m, int groupStart, int groupEnd, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        int blocks = m.PaddedCols / ActivationQuantizer.BlockSize;
        if (x.Length != m.PaddedCols) throw new ArgumentException($"x has {x.Length} elements, expected the padded width {m.PaddedCols}.", nameof(x));
        if (xScales.Length != blocks || xOffsets.Length != blocks) throw new ArgumentException($"Expected {blocks} activation scales and offsets.", nameof(xScales));
        if (y.Length != m.Rows) throw new ArgumentException($"y has {y.Length} elements, expected {m.Rows}.", nameof(y));
        if (groupStart < 0 || groupEnd > m.Groups || groupStart > groupEnd)
            throw new ArgumentOutOfRangeException(nameof(groupStart), $"Groups {groupStart}..{groupEnd} are outside 0..{m.Groups}.");
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"The {path} int8 path is not supported on this CPU.");

        switch (path)
        {
            case Path.AvxVnni: ComputeAvxVnni(m, groupStart, groupEnd, x, xScales, xOffsets, y); break;
            case Path.Avx512BW: ComputeAvx512BW(m, groupStart, groupEnd, x, xScales, xOffsets, y); break;
            case Path.Avx2: ComputeAvx2(m, groupStart, groupEnd, x, xScales, xOffsets, y); break;
            case Path.Vector128: ComputeVector128(m, groupStart, groupEnd, x, xScales, xOffsets, y); break;
            default: ComputeScalar(m, groupStart, groupEnd, x, xScales, xOffsets, y); break;
        }
    }

    private static void ComputeScalar(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        int k4 = m.PaddedCols / 4;
        ReadOnlySpan<byte> data = m.Data.Span;   // once: the indexer re-reads the wrapper per element
        for (int g = g0; g < g1; g++)
        {
            for (int rr = 0; rr < PackedInt8Matrix.GroupRows && g * PackedInt8Matrix.GroupRows + rr < m.Rows; rr++)
            {
                float acc = 0f;
                for (int b = 0; b < xScales.Length; b++)
                {
                    int s = 0;
                    for (int k = b * 32; k < b * 32 + 32; k++)
                        s += data[((g * k4 + k / 4) * PackedInt8Matrix.GroupRows + rr) * 4 + k % 4] * x[k];
                    acc = MathF.FusedMultiplyAdd(s - xOffsets[b], xScales[b], acc);
                }
                int r = g * PackedInt8Matrix.GroupRows + rr;
                y[r] = MathF.FusedMultiplyAdd(acc, m.Scales[r], m.Bias[r]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private static void ComputeVector128(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        int groupBytes = m.PaddedCols * PackedInt8Matrix.GroupRows;
        ref int x4 = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(x));   // 4 activations per int
        Span<Vector128<int>> rowSums = stackalloc Vector128<int>[8];
        Span<float> acc = stackalloc float[8];
        for (int g = g0; g < g1; g++)
        {
            acc.Clear();
            ref byte wg = ref m.Data[g * groupBytes];
            for (int b = 0; b < xScales.Length; b++)
            {
                rowSums.Clear();
                for (int j = 0; j < 8; j++)
                {
                    // [x0 x1 x2 x3] twice as int16; each byte-row of weights widens to 2 rows x 4 int16.
                    // (w + 128) * x fits int16: |p| <= 255 * 127 = 32385.
                    var xs = Vector128.WidenLower(Vector128.Create(Unsafe.Add(ref x4, b * 8 + j)).AsSByte());
                    ref byte p = ref Unsafe.Add(ref wg, (b * 8 + j) * 32);
                    for (int half = 0; half < 2; half++)
                    {
                        var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref p, (nuint)(16 * half)));
                        var (r0, r1) = Vector128.Widen(lo.AsInt16() * xs);
                        var (r2, r3) = Vector128.Widen(hi.AsInt16() * xs);
                        rowSums[4 * half] += r0;
                        rowSums[4 * half + 1] += r1;
                        rowSums[4 * half + 2] += r2;
                        rowSums[4 * half + 3] += r3;
                    }
                }
                for (int rr = 0; rr < 8; rr++)
                    acc[rr] = MathF.FusedMultiplyAdd(Vector128.Sum(rowSums[rr]) - xOffsets[b], xScales[b], acc[rr]);
            }
            for (int rr = 0; rr < PackedInt8Matrix.GroupRows && g * PackedInt8Matrix.GroupRows + rr < m.Rows; rr++)
            {
                int r = g * PackedInt8Matrix.GroupRows + rr;
                y[r] = MathF.FusedMultiplyAdd(acc[rr], m.Scales[r], m.Bias[r]);
            }
        }
    }
}
