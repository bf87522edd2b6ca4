using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// The Linear of an int8 file run with <see cref="ActivationPrecision.Float32"/> activations: int8 weights
/// <c>[out, in]</c> with one scale per output row, packed for <see cref="WeightOnlyInt8MatVec"/> (one byte
/// per weight in memory), times float activations. Equal, up to float rounding, to the float MatMul that
/// ONNX Runtime runs after folding <c>DequantizeLinear</c> into the weights.
/// </summary>
internal sealed class WeightOnlyInt8Linear : ManagedLinear
{
    /// <summary>Packs <paramref name="weights"/> (<c>[rows, cols]</c>, row-major) with <paramref name="scales"/> (<c>[rows]</c>).</summary>
    public WeightOnlyInt8Linear(string name, int rows, int cols, ReadOnlySpan<sbyte> weights, float[] scales, float[] bias) : base(name, rows, cols, bias)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"'{name}': {weights.Length} weights, expected {rows}x{cols}.");
        if (scales.Length != rows) throw new ArgumentException($"'{name}': {scales.Length} scales, expected {rows}.");
        Matrix = new ColumnPackedInt8Matrix(weights, rows, cols, scales, bias);
    }

    /// <summary>Wraps an already packed <paramref name="matrix"/> (the loader packs straight from the file's bytes).</summary>
    public WeightOnlyInt8Linear(string name, ColumnPackedInt8Matrix matrix, float[] bias) : base(name, matrix.Rows, matrix.Cols, bias) => Matrix = matrix;

    /// <summary>The packed weights, scales and bias.</summary>
    public ColumnPackedInt8Matrix Matrix { get; }

    /// <inheritdoc />
    public override long WeightBytes => (long)Rows * Cols + 4L * Rows;

    /// <inheritdoc />
    protected override void Prepare(ReadOnlySpan<float> x, int count, QuantizedActivations scratch, RowParallel? parallel) { }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    protected override void ComputeRows(ReadOnlySpan<float> x, QuantizedActivations scratch,
        Span<float> y, int count, int t0, int t1, int start, int end, int chunkRows)
    {
        const int g = ColumnPackedInt8Matrix.GroupRows;
        int n = t1 - t0;
        for (int r0 = start; r0 < end; r0 += chunkRows)
        {
            int g0 = r0 / g, g1 = (Math.Min(end, r0 + chunkRows) + g - 1) / g;
            if (n == 1) WeightOnlyInt8MatVec.Compute(Matrix, g0, g1, x.Slice(t0 * Cols, Cols), y.Slice(t0 * Rows, Rows));
            else WeightOnlyInt8MatVec.ComputeBatch(Matrix, g0, g1, x.Slice(t0 * Cols, n * Cols), n, y.Slice(t0 * Rows, n * Rows));
        }
    }
}
