namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// An int8 weight matrix <c>W [rows, cols]</c> (PyTorch <c>[out, in]</c>) re-laid for
/// <see cref="WeightOnlyInt8MatVec"/>: rows in groups of <see cref="GroupRows"/>, each group stored column by
/// column, so one 16-byte load is one column of 16 rows and the rows become the vector lanes:
/// <code>
/// Data[(g * Cols + k) * 16 + rr] = w[16 g + rr, k]
/// </code>
/// Rows are padded to a whole group with w = 0; scales and bias are padded alike (scale 0, bias 0).
/// </summary>
internal sealed class ColumnPackedInt8Matrix
{
    /// <summary>Rows per group: one 512-bit register of floats.</summary>
    public const int GroupRows = 16;

    /// <summary>Packs <paramref name="weights"/> (<c>[rows, cols]</c>, row-major) with one <paramref name="scales"/>
    /// entry per row and an optional <paramref name="bias"/> (<c>[rows]</c> or empty).</summary>
    public ColumnPackedInt8Matrix(ReadOnlySpan<sbyte> weights, int rows, int cols, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias)
        : this(weights, rows, cols, rowStride: cols, colStride: 1, scales, bias) { }

    /// <summary>Packs the input-major <c>[cols, rows]</c> layout of the model file (ONNX <c>weight_q</c> <c>[in, out]</c>)
    /// straight from the file's bytes, with no transposed copy in between (lean loading): each packed column of a
    /// group is 16 contiguous bytes of the source.</summary>
    public static ColumnPackedInt8Matrix FromInputMajor(ReadOnlySpan<sbyte> weightsT, int rows, int cols, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias) =>
        new(weightsT, rows, cols, rowStride: 1, colStride: rows, scales, bias);

    /// <summary>The one packer: <c>w[r, k] = source[r * rowStride + k * colStride]</c>.</summary>
    private ColumnPackedInt8Matrix(ReadOnlySpan<sbyte> source, int rows, int cols, int rowStride, int colStride, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias)
    {
        if (rows < 1 || cols < 1) throw new ArgumentException($"A matrix needs at least one row and one column (got {rows}x{cols}).");
        if (source.Length != (long)rows * cols) throw new ArgumentException($"{source.Length} weights, expected {rows}x{cols}.", "weights");
        if (scales.Length != rows) throw new ArgumentException($"{scales.Length} scales, expected {rows}.", nameof(scales));
        if (bias.Length != 0 && bias.Length != rows) throw new ArgumentException($"{bias.Length} biases, expected 0 or {rows}.", nameof(bias));
        Rows = rows;
        Cols = cols;
        Groups = (rows + GroupRows - 1) / GroupRows;
        long bytes = (long)Groups * GroupRows * cols;
        if (bytes > Array.MaxLength) throw new NotSupportedException($"A {rows}x{cols} int8 matrix exceeds the largest .NET array.");
        Data = new AlignedArray<sbyte>(bytes);             // zeroed: padding rows are w = 0
        Pack(source, rowStride, colStride);
        Scales = new float[Groups * GroupRows];
        scales.CopyTo(Scales);
        Bias = new float[Groups * GroupRows];
        bias.CopyTo(Bias);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]   // once per load over every weight
    private void Pack(ReadOnlySpan<sbyte> source, int rowStride, int colStride)
    {
        int rows = Rows, cols = Cols;
        Span<sbyte> data = Data.Span;
        for (int g = 0; g < Groups; g++)
        {
            int groupRows = Math.Min(GroupRows, rows - g * GroupRows);
            for (int k = 0; k < cols; k++)
            {
                long at = ((long)g * cols + k) * GroupRows;
                long from = (long)g * GroupRows * rowStride + (long)k * colStride;
                if (rowStride == 1) source.Slice((int)from, groupRows).CopyTo(Data.AsSpan((int)at, groupRows));
                else for (int rr = 0; rr < groupRows; rr++) data[(int)(at + rr)] = source[(int)(from + (long)rr * rowStride)];
            }
        }
    }

    /// <summary>Output features.</summary>
    public int Rows { get; }
    /// <summary>Input features.</summary>
    public int Cols { get; }
    /// <summary>Row groups: <c>ceil(Rows / 16)</c>.</summary>
    public int Groups { get; }
    /// <summary>The packed weights <c>[Groups, Cols, 16]</c>, see the type summary, from a 64-byte boundary.</summary>
    public AlignedArray<sbyte> Data { get; }
    /// <summary>Per-row weight scales <c>[Groups * 16]</c> (0 for padding rows).</summary>
    public float[] Scales { get; }
    /// <summary>Per-row bias <c>[Groups * 16]</c> (all 0 when the layer has none).</summary>
    public float[] Bias { get; }

    /// <summary>Whether the AVX2 kernel prefetches these weights with the non-temporal hint (see
    /// <see cref="PackedInt8Matrix.PrefetchesNonTemporal"/>; <see cref="ManagedWeights"/> decides at load).</summary>
    public bool PrefetchesNonTemporal { get; set; }
}
