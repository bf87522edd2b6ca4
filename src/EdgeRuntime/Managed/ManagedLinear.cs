using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One Linear layer, <c>y = x W^T + b</c> with <c>W</c> <c>[out, in]</c> rows (re-laid from the ONNX
/// <c>[in, out]</c> initializers at load time so each output is one contiguous dot product).
/// Immutable after load and shared by every sequence. Two precisions: <see cref="Int8Linear"/> and
/// <see cref="Fp32Linear"/>.
/// </summary>
internal abstract class ManagedLinear
{
    /// <summary>Matrices with at least this many weights are split across two threads when the
    /// sequence has a <see cref="RowParallel"/> helper; smaller ones finish faster than a hand-off.
    /// Measured with <c>bench/ManagedBench</c> (docs/BENCHMARKS.md).</summary>
    public const long ParallelThreshold = 1 << 18;

    protected ManagedLinear(string name, int rows, int cols, float[] bias)
    {
        if (bias.Length != 0 && bias.Length != rows) throw new ArgumentException($"'{name}': bias has {bias.Length} values, expected {rows}.");
        Name = name;
        Rows = rows;
        Cols = cols;
        Bias = bias;
    }

    /// <summary>Checkpoint prefix, e.g. <c>blocks.0.attn.qkv</c>.</summary>
    public string Name { get; }
    /// <summary>Output features (rows of W).</summary>
    public int Rows { get; }
    /// <summary>Input features (columns of W).</summary>
    public int Cols { get; }
    /// <summary>Bias <c>[out]</c>, or empty (the output head has none).</summary>
    public float[] Bias { get; }
    /// <summary>Bytes of weight data read per application (the decode roofline counts these).</summary>
    public abstract long WeightBytes { get; }

    /// <summary>Whether this matrix is large enough to be worth two threads.</summary>
    protected bool SplitWorthIt(RowParallel? parallel) => parallel is not null && (long)Rows * Cols >= ParallelThreshold && Rows >= 8;

    /// <summary>Where the helper's half starts: half the rows, rounded down to the kernels' 4-row blocks.</summary>
    protected int SplitRow => Rows / 2 & ~3;

    /// <summary>Computes <c>y [out] = x [in] W^T + b</c>. <paramref name="scratch"/> holds at least
    /// <see cref="Cols"/> bytes (the int8 path quantizes x into it).</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, Span<sbyte> scratch, RowParallel? parallel)
    {
        if (x.Length != Cols) throw new ArgumentException($"'{Name}': input has {x.Length} values, expected {Cols}.", nameof(x));
        if (y.Length != Rows) throw new ArgumentException($"'{Name}': output has {y.Length} values, expected {Rows}.", nameof(y));
        if (scratch.Length < Cols) throw new ArgumentException($"'{Name}': scratch has {scratch.Length} bytes, needs {Cols}.", nameof(scratch));
        ApplyCore(x, y, scratch[..Cols], parallel);
    }

    /// <summary>The precision-specific product; lengths already checked.</summary>
    protected abstract void ApplyCore(ReadOnlySpan<float> x, Span<float> y, Span<sbyte> scratch, RowParallel? parallel);
}

/// <summary>
/// int8 Linear: weights <c>q [out, in]</c> with one scale per output row (FORMAT.md section 5, the
/// <see cref="Core.Int8Quantization"/> scheme) and precomputed row sums for the VNNI kernel.
/// Activations are quantized per call (symmetric, one scale) by <see cref="ActivationQuantizer"/>.
/// </summary>
internal sealed unsafe class Int8Linear : ManagedLinear
{
    /// <summary>Takes ownership of <paramref name="weights"/> (<c>[rows, cols]</c>, row-major) and <paramref name="scales"/> (<c>[rows]</c>).</summary>
    public Int8Linear(string name, int rows, int cols, sbyte[] weights, float[] scales, float[] bias) : base(name, rows, cols, bias)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"'{name}': {weights.Length} weights, expected {rows}x{cols}.");
        if (scales.Length != rows) throw new ArgumentException($"'{name}': {scales.Length} scales, expected {rows}.");
        if (cols > Int8MatVec.MaxCols) throw new ArgumentException($"'{name}': {cols} input features exceed the int8 kernel's {Int8MatVec.MaxCols}.");
        Weights = weights;
        Scales = scales;
        RowSums = new int[rows];
        Int8MatVec.RowSums(weights, cols, RowSums);
    }

    /// <summary>Quantized weights <c>[out, in]</c>.</summary>
    public sbyte[] Weights { get; }
    /// <summary>Per-row scales <c>[out]</c>.</summary>
    public float[] Scales { get; }
    /// <summary>Per-row sums of <see cref="Weights"/> <c>[out]</c>.</summary>
    public int[] RowSums { get; }

    /// <inheritdoc />
    public override long WeightBytes => Weights.Length + 4L * Scales.Length;

    /// <inheritdoc />
    protected override void ApplyCore(ReadOnlySpan<float> x, Span<float> y, Span<sbyte> xq, RowParallel? parallel)
    {
        float xScale = ActivationQuantizer.Quantize(x, xq);
        if (!SplitWorthIt(parallel))
        {
            Int8MatVec.Compute(Weights, RowSums, Scales, xq, xScale, Bias, y);
            return;
        }
        fixed (sbyte* w = Weights) fixed (int* sums = RowSums) fixed (float* scales = Scales) fixed (float* bias = Bias)
        fixed (sbyte* xp = xq) fixed (float* yp = y)
        {
            var job = new Job { W = w, Sums = sums, Scales = scales, Bias = bias, HasBias = Bias.Length != 0, X = xp, XScale = xScale, Y = yp, Cols = Cols };
            parallel!.Run(&RunRows, &job, SplitRow, Rows);
        }
    }

    private struct Job
    {
        public sbyte* W; public int* Sums; public float* Scales; public float* Bias; public bool HasBias;
        public sbyte* X; public float XScale; public float* Y; public int Cols;
    }

    private static void RunRows(void* context, int start, int end)
    {
        ref Job j = ref *(Job*)context;
        int n = end - start;
        Int8MatVec.Compute(new ReadOnlySpan<sbyte>(j.W + (long)start * j.Cols, n * j.Cols), new ReadOnlySpan<int>(j.Sums + start, n),
            new ReadOnlySpan<float>(j.Scales + start, n), new ReadOnlySpan<sbyte>(j.X, j.Cols), j.XScale,
            j.HasBias ? new ReadOnlySpan<float>(j.Bias + start, n) : default, new Span<float>(j.Y + start, n));
    }
}

/// <summary>fp32 Linear for fp32 model files: weights <c>[out, in]</c> as stored in the checkpoint.</summary>
internal sealed unsafe class Fp32Linear : ManagedLinear
{
    /// <summary>Takes ownership of <paramref name="weights"/> (<c>[rows, cols]</c>, row-major).</summary>
    public Fp32Linear(string name, int rows, int cols, float[] weights, float[] bias) : base(name, rows, cols, bias)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"'{name}': {weights.Length} weights, expected {rows}x{cols}.");
        Weights = weights;
    }

    /// <summary>Weights <c>[out, in]</c>.</summary>
    public float[] Weights { get; }

    /// <inheritdoc />
    public override long WeightBytes => 4L * Weights.Length;

    /// <inheritdoc />
    protected override void ApplyCore(ReadOnlySpan<float> x, Span<float> y, Span<sbyte> scratch, RowParallel? parallel)
    {
        if (!SplitWorthIt(parallel))
        {
            Fp32MatVec.Compute(Weights, x, Bias, y);
            return;
        }
        fixed (float* w = Weights) fixed (float* bias = Bias) fixed (float* xp = x) fixed (float* yp = y)
        {
            var job = new Job { W = w, Bias = bias, HasBias = Bias.Length != 0, X = xp, Y = yp, Cols = Cols };
            parallel!.Run(&RunRows, &job, SplitRow, Rows);
        }
    }

    private struct Job
    {
        public float* W; public float* Bias; public bool HasBias; public float* X; public float* Y; public int Cols;
    }

    private static void RunRows(void* context, int start, int end)
    {
        ref Job j = ref *(Job*)context;
        int n = end - start;
        Fp32MatVec.Compute(new ReadOnlySpan<float>(j.W + (long)start * j.Cols, n * j.Cols), new ReadOnlySpan<float>(j.X, j.Cols),
            j.HasBias ? new ReadOnlySpan<float>(j.Bias + start, n) : default, new Span<float>(j.Y + start, n));
    }
}
