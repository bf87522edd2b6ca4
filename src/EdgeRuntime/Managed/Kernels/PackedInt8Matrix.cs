using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// An int8 weight matrix <c>W [rows, cols]</c> (PyTorch <c>[out, in]</c>) re-laid for
/// <see cref="Int8MatVec"/>: rows in groups of <see cref="GroupRows"/>, and within a group the four
/// weights <c>w[r, 4i..4i+3]</c> of each of the 8 rows side by side, so one 32-byte load holds 8 rows x 4
/// columns, exactly what one <c>vpdpbusd</c> multiplies by a broadcast of 4 activations. The kernels then
/// produce 8 row sums per register with no horizontal reductions.
/// <code>
/// Data[((g * PaddedCols / 4 + i) * 8 + rr) * 4 + c] = (byte)(w[8g + rr, 4i + c] + 128)
/// </code>
/// Weights are stored as unsigned <c>w + 128</c> because <c>vpdpbusd</c> multiplies unsigned by signed
/// bytes; the activations stay signed and the kernel removes the <c>128 * sum(x)</c> this adds. Rows are
/// padded to a whole group and columns to whole activation blocks with w = 0 (so padding contributes
/// nothing: padded activations are 0 too). Scales and bias are padded alike (scale 0, bias 0).
/// </summary>
internal sealed class PackedInt8Matrix
{
    /// <summary>Rows per group: one 256-bit register of int32 sums.</summary>
    public const int GroupRows = 8;

    /// <summary>Packs <paramref name="weights"/> (<c>[rows, cols]</c>, row-major, values in [-127, 127]) with
    /// one <paramref name="scales"/> entry per row and an optional <paramref name="bias"/> (<c>[rows]</c> or empty).</summary>
    public PackedInt8Matrix(ReadOnlySpan<sbyte> weights, int rows, int cols, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias)
        : this(weights, rows, cols, rowStride: cols, colStride: 1, scales, bias) { }

    /// <summary>Packs the input-major <c>[cols, rows]</c> layout of the model file (ONNX <c>weight_q</c> <c>[in, out]</c>)
    /// straight from the file's bytes, with no transposed copy in between (lean loading).</summary>
    public static PackedInt8Matrix FromInputMajor(ReadOnlySpan<sbyte> weightsT, int rows, int cols, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias) =>
        new(weightsT, rows, cols, rowStride: 1, colStride: rows, scales, bias);

    /// <summary>The one packer: <c>w[r, c] = source[r * rowStride + c * colStride]</c>.</summary>
    private PackedInt8Matrix(ReadOnlySpan<sbyte> source, int rows, int cols, int rowStride, int colStride, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias)
    {
        if (rows < 1 || cols < 1) throw new ArgumentException($"A matrix needs at least one row and one column (got {rows}x{cols}).");
        if (source.Length != (long)rows * cols) throw new ArgumentException($"{source.Length} weights, expected {rows}x{cols}.", "weights");
        if (scales.Length != rows) throw new ArgumentException($"{scales.Length} scales, expected {rows}.", nameof(scales));
        if (bias.Length != 0 && bias.Length != rows) throw new ArgumentException($"{bias.Length} biases, expected 0 or {rows}.", nameof(bias));
        Rows = rows;
        Cols = cols;
        PaddedCols = ActivationQuantizer.PaddedLength(cols);
        Groups = (rows + GroupRows - 1) / GroupRows;
        long bytes = (long)Groups * GroupRows * PaddedCols;
        if (bytes > Array.MaxLength) throw new NotSupportedException($"A {rows}x{cols} int8 matrix exceeds the largest .NET array.");
        Data = new AlignedArray<byte>(bytes, zeroed: false);
        Data.Span.Fill(128);                       // w = 0 everywhere, including the padding
        Pack(source, rowStride, colStride);
        Scales = new float[Groups * GroupRows];
        scales.CopyTo(Scales);
        Bias = new float[Groups * GroupRows];
        bias.CopyTo(Bias);
    }

    /// <summary>Group by group, column by column, row by row (with the input-major source the innermost reads are
    /// contiguous). From the input-major layout on x86, a whole 8-row x 4-column step is one 32-byte interleave of
    /// four 8-byte column pieces; anything else (partial groups or column blocks, other sources) runs the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // runs once per load over every weight: no tier-0 loop
    private void Pack(ReadOnlySpan<sbyte> source, int rowStride, int colStride)
    {
        int rows = Rows, cols = Cols;
        Span<byte> data = Data.Span;
        for (int g = 0; g < Groups; g++)
        {
            int groupRows = Math.Min(GroupRows, rows - g * GroupRows);
            long groupAt = (long)g * (PaddedCols / 4) * GroupRows * 4;
            int c = 0;
            if (rowStride == 1 && groupRows == GroupRows && Sse2.IsSupported)
            {
                ref sbyte src = ref MemoryMarshal.GetReference(source);
                ref byte dst = ref Data.Reference;
                var flip = Vector128.Create((byte)0x80);   // w + 128 on the two's complement byte
                for (; c + 4 <= cols; c += 4)
                {
                    nint from = (nint)((long)c * colStride + (long)g * GroupRows);
                    var c0 = Vector128.CreateScalar(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref src, from)))).AsByte();
                    var c1 = Vector128.CreateScalar(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref src, from + colStride)))).AsByte();
                    var c2 = Vector128.CreateScalar(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref src, from + 2 * (nint)colStride)))).AsByte();
                    var c3 = Vector128.CreateScalar(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref src, from + 3 * (nint)colStride)))).AsByte();
                    var c01 = Sse2.UnpackLow(c0, c1).AsUInt16();   // r0c0 r0c1 r1c0 r1c1 ...
                    var c23 = Sse2.UnpackLow(c2, c3).AsUInt16();   // r0c2 r0c3 r1c2 r1c3 ...
                    nint at = (nint)(groupAt + (long)(c / 4) * GroupRows * 4);
                    (Sse2.UnpackLow(c01, c23).AsByte() ^ flip).StoreUnsafe(ref dst, (nuint)at);         // rows 0-3, 4 columns each
                    (Sse2.UnpackHigh(c01, c23).AsByte() ^ flip).StoreUnsafe(ref dst, (nuint)(at + 16)); // rows 4-7
                }
            }
            for (; c < cols; c++)
            {
                long at = groupAt + (long)(c / 4) * GroupRows * 4 + c % 4;
                long from = (long)g * GroupRows * rowStride + (long)c * colStride;
                for (int rr = 0; rr < groupRows; rr++)
                    data[(int)(at + rr * 4)] = (byte)(source[(int)(from + (long)rr * rowStride)] + 128);
            }
        }
    }

    /// <summary>Output features.</summary>
    public int Rows { get; }
    /// <summary>Input features.</summary>
    public int Cols { get; }
    /// <summary>Input features rounded up to whole activation blocks (the quantized row's length).</summary>
    public int PaddedCols { get; }
    /// <summary>Row groups: <c>ceil(Rows / 8)</c>.</summary>
    public int Groups { get; }
    /// <summary>The packed unsigned weights <c>[Groups, PaddedCols / 4, 8, 4]</c>, see the type summary, from a 64-byte boundary.</summary>
    public AlignedArray<byte> Data { get; }
    /// <summary>Per-row weight scales <c>[Groups * 8]</c> (0 for padding rows).</summary>
    public float[] Scales { get; }
    /// <summary>Per-row bias <c>[Groups * 8]</c> (all 0 when the layer has none).</summary>
    public float[] Bias { get; }

    /// <summary>Whether decode streams these weights from DRAM (the model is larger than <see cref="CacheResidentModelBytes"/>),
    /// a layout hint set once at load. The VNNI matvec then walks one row group at a time with a prefetch ahead of it: at
    /// 85M on a Zen 5, decode ran 1.04-1.25x faster than with two groups side by side (six interleaved rounds), while on
    /// cache-resident matrices the two-group loop is 5-20% faster (<c>ManagedBench matvec</c>). The AVX2 matvec ignores it (it reads
    /// four groups from four places a quarter of its range apart, resident or not). Either way the bits are the same.</summary>
    public bool StreamsFromMemory { get; set; }

    /// <summary>Whether the AVX2 matvec prefetches these weights with the non-temporal hint, set once at load for weights
    /// that pass through the caches once per token (<see cref="ManagedWeights"/> decides). On the Zen 2 VM (AVX2, 16 MB L3)
    /// 85M decode ran 1.13-1.20x faster with it (docs/BENCHMARKS.md, "Fourteenth session"), and the 25M model, whose weights
    /// only partly and unreliably stay in the L3, faster on average and more evenly ("Fifteenth session"). The VNNI and
    /// AVX-512 paths ignore it: on the Zen 5 the hint measured no gain there. Either way the bits are the same.</summary>
    public bool PrefetchesNonTemporal { get; set; }

    /// <summary>Weight bytes per token above which a model's weights do not stay in the last-level cache between tokens,
    /// so <see cref="StreamsFromMemory"/> is set. 16 MiB, half a Zen 4/5 CCD's L3: the VM shares it, and the 25M model
    /// (25.4 MB) decoded 1.11x faster streamed (median of six alternated <c>ManagedBench decode --activations int8</c> runs,
    /// 1103-1162 against 823-1148 tokens/s; docs/BENCHMARKS.md, "Sixth session"). At 32 MiB it ran paired.</summary>
    public const long CacheResidentModelBytes = 16L << 20;

    /// <summary>The original signed weight <c>w[row, col]</c> (tests and diagnostics).</summary>
    public sbyte this[int row, int col] =>
        (sbyte)(Data[((long)(row / GroupRows * (PaddedCols / 4) + col / 4) * GroupRows + row % GroupRows) * 4 + col % 4] - 128);
}
