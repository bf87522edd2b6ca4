using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One Linear layer applied to <c>count</c> token rows, <c>Y [count, out] = X [count, in] W^T + b</c>,
/// with <c>W</c> <c>[out, in]</c> rows (re-laid from the ONNX <c>[in, out]</c> initializers at load time so
/// each output is one contiguous dot product). Immutable after load and shared by every sequence.
/// Several rows (prefill) run row-chunk by row-chunk so a chunk of weights stays in L1 while every
/// token passes over it; each (token, output) pair still goes through the same matvec kernel, so a
/// batched prefill gives bit-identical results to token-by-token decode.
/// Three kinds: <see cref="Int8Linear"/> (int8 activations), <see cref="WeightOnlyInt8Linear"/> (int8 weights,
/// float activations) and <see cref="Fp32Linear"/>.
/// </summary>
internal abstract unsafe class ManagedLinear
{
    /// <summary>Matrices with at least this many weights are shared with the helper thread in a decode step when the
    /// sequence has one; smaller ones finish faster on one thread. 2^19: at 2^18 a d256 model's MLP matrices (1024 x 256)
    /// were split, and two-thread decode ran at 0.81-0.83x of one thread, the hand-off and the helper's output rows crossing
    /// core complexes costing more than half of a 262 KB product (`busy-decode --dim 256`: 6232-6337 -> 7834-7908
    /// tokens/s; d512 unchanged within noise; every 85M matrix is larger).</summary>
    public const long ParallelThreshold = 1 << 19;

    /// <summary>A batch of tokens (a prefill chunk) shares a smaller matrix with the helper too, when rows x cols x tokens
    /// reaches this many multiply-adds (~25 us on one thread): a d256 model's qkv and attention projections.</summary>
    public const long ParallelBatchThreshold = 1 << 22;

    /// <summary>Output rows per weight chunk when several tokens pass over the weights (fits L1 for in &lt;= 512 int8).</summary>
    protected const int BatchChunkRows = 64;

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

    /// <summary>Computes <c>y [count, out] = x [count, in] W^T + b</c>; the int8 path quantizes the rows of x
    /// into <paramref name="scratch"/> first, unless <paramref name="inputQuantized"/> says the op before did (a
    /// <see cref="LinearEpilogue"/> into <paramref name="scratch"/>; only layers with <see cref="UsesQuantizedInput"/>).
    /// <paramref name="epilogue"/> runs on each finished part of the output, on the thread that computed it, and so does
    /// <c>residual += y</c> when <paramref name="residual"/> <c>[count, out]</c> is given (a block's residual stream).
    /// A prefill chunk (<see cref="TokenParallel.MinSharedTokens"/> rows or more) is shared by token rows, each thread
    /// its own half (<see cref="TokenParallel.RunTokens"/>); a decode step by output rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int count, QuantizedActivations scratch, RowParallel? parallel,
        LinearEpilogue epilogue = default, bool inputQuantized = false, Span<float> residual = default)
    {
        Validate(x, y, count, residual, inputQuantized);
        if (!inputQuantized) Prepare(x, count, scratch, parallel);
        bool split = parallel is not null && SplitsFor(count);
        int chunkRows = count == 1 ? Rows : BatchChunkRows;
        fixed (float* xp = x) fixed (float* yp = y) fixed (float* rp = residual)
        {
            // The job lives on this stack frame until the call returns (the GC keeps reporting and updating
            // its references; the helper only reads them while this thread waits inside RowParallel).
            var job = new Job { Layer = this, Scratch = scratch, X = xp, Y = yp, Residual = rp, Count = count, ChunkRows = chunkRows, Epilogue = epilogue };
            void* context = System.Runtime.CompilerServices.Unsafe.AsPointer(ref job);
            if (!split) RunTokenJob(context, 0, count);
            else if (count >= TokenParallel.MinSharedTokens) TokenParallel.RunTokens(parallel, &RunTokenJob, context, count);
            else parallel!.Run(&RunRowJob, context, Rows, epilogue.RowAlignment);
        }
    }

    /// <summary>The token rows <paramref name="t0"/>..<paramref name="t1"/>-1 of <see cref="Apply"/>, on the calling thread
    /// alone: the same products, epilogue and residual, and (unless <paramref name="inputQuantized"/>) the quantization of
    /// those rows of <paramref name="x"/> first. A prefill stage in which each thread owns a range of tokens (<see cref="PrefillBlock"/>)
    /// runs its ops this way, one after another without a hand-off between them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ApplyTokens(ReadOnlySpan<float> x, Span<float> y, int count, int t0, int t1, QuantizedActivations scratch,
        LinearEpilogue epilogue = default, bool inputQuantized = false, Span<float> residual = default)
    {
        Validate(x, y, count, residual, inputQuantized);
        if (t0 < 0 || t1 > count || t0 >= t1) throw new ArgumentOutOfRangeException(nameof(t0), $"Tokens {t0}..{t1 - 1} are not a range of 0..{count - 1}.");
        if (!inputQuantized) QuantizeTokens(x, count, t0, t1, scratch);
        fixed (float* xp = x) fixed (float* yp = y) fixed (float* rp = residual)
        {
            var job = new Job { Layer = this, Scratch = scratch, X = xp, Y = yp, Residual = rp, Count = count, ChunkRows = BatchChunkRows, Epilogue = epilogue };
            RunTokenJob(System.Runtime.CompilerServices.Unsafe.AsPointer(ref job), t0, t1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Validate(ReadOnlySpan<float> x, Span<float> y, int count, Span<float> residual, bool inputQuantized)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "At least one row.");
        if (x.Length != (long)count * Cols) throw new ArgumentException($"'{Name}': input has {x.Length} values, expected {count}x{Cols}.", nameof(x));
        if (y.Length != (long)count * Rows) throw new ArgumentException($"'{Name}': output has {y.Length} values, expected {count}x{Rows}.", nameof(y));
        if (!residual.IsEmpty && residual.Length != y.Length) throw new ArgumentException($"'{Name}': residual has {residual.Length} values, expected {count}x{Rows}.", nameof(residual));
        if (inputQuantized && !UsesQuantizedInput) throw new InvalidOperationException($"'{Name}' multiplies float activations; it has no quantized input.");
    }

    /// <summary>Whether an application to <paramref name="count"/> token rows shares the rows with the helper thread (when
    /// the sequence has one): a matrix of at least <see cref="ParallelThreshold"/> weights, or a batch of at least
    /// <see cref="TokenParallel.MinSharedTokens"/> rows with at least <see cref="ParallelBatchThreshold"/> multiply-adds.</summary>
    public bool SplitsFor(int count) => Rows >= 64 &&
        ((long)Rows * Cols >= ParallelThreshold || count >= TokenParallel.MinSharedTokens && (long)Rows * Cols * count >= ParallelBatchThreshold);

    /// <summary>Whether this layer multiplies int8-quantized activations (so a producer may quantize them for it).</summary>
    public virtual bool UsesQuantizedInput => false;

    /// <summary>Precision-specific preparation of the input rows (int8: quantize each row, on both threads in a prefill).</summary>
    protected abstract void Prepare(ReadOnlySpan<float> x, int count, QuantizedActivations scratch, RowParallel? parallel);

    /// <summary><see cref="Prepare"/> for the token rows <paramref name="t0"/>..<paramref name="t1"/>-1 only, on this thread.</summary>
    protected virtual void QuantizeTokens(ReadOnlySpan<float> x, int count, int t0, int t1, QuantizedActivations scratch) { }

    /// <summary>Output rows <c>start..end-1</c> of the tokens <c>t0..t1-1</c> (of <paramref name="count"/>), weight chunk by
    /// weight chunk. <paramref name="start"/> and <paramref name="chunkRows"/> are multiples of 16 (the int8 kernels' row groups).</summary>
    protected abstract void ComputeRows(ReadOnlySpan<float> x, QuantizedActivations scratch,
        Span<float> y, int count, int t0, int t1, int start, int end, int chunkRows);

    private struct Job
    {
        public ManagedLinear Layer; public QuantizedActivations Scratch; public float* X; public float* Y; public float* Residual;
        public int Count; public int ChunkRows;
        public LinearEpilogue Epilogue;
    }

    /// <summary>Every output row of the tokens <paramref name="t0"/>..<paramref name="t1"/>-1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTokenJob(void* context, int t0, int t1) => RunPart(context, t0, t1, 0, Unsafe.AsRef<Job>(context).Layer.Rows);

    /// <summary>Output rows <paramref name="start"/>..<paramref name="end"/>-1 of every token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRowJob(void* context, int start, int end) => RunPart(context, 0, Unsafe.AsRef<Job>(context).Count, start, end);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunPart(void* context, int t0, int t1, int start, int end)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        var layer = j.Layer;
        int count = j.Count, rows = layer.Rows;
        var y = new Span<float>(j.Y, count * rows);
        layer.ComputeRows(new ReadOnlySpan<float>(j.X, count * layer.Cols), j.Scratch, y, count, t0, t1, start, end, j.ChunkRows);
        j.Epilogue.Apply(y, rows, t0, t1, start, end - start);
        if (j.Residual == null) return;
        for (int t = t0; t < t1; t++)
        {
            var part = new Span<float>(j.Residual + (long)t * rows + start, end - start);
            Kernels.Elementwise.Add(part, y.Slice(t * rows + start, end - start), part);
        }
    }
}

/// <summary>
/// int8 Linear: weights <c>q [out, in]</c> with one scale per output row (FORMAT.md section 5, the
/// <see cref="Core.Int8Quantization"/> scheme), packed for the kernel (<see cref="PackedInt8Matrix"/>).
/// Activations are quantized per token row in blocks of 32 by <see cref="ActivationQuantizer"/>, as
/// ONNX Runtime's fused int8 MatMul does.
/// </summary>
internal sealed class Int8Linear : ManagedLinear
{
    /// <summary>Packs <paramref name="weights"/> (<c>[rows, cols]</c>, row-major) with <paramref name="scales"/> (<c>[rows]</c>).</summary>
    public Int8Linear(string name, int rows, int cols, ReadOnlySpan<sbyte> weights, float[] scales, float[] bias) : base(name, rows, cols, bias)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"'{name}': {weights.Length} weights, expected {rows}x{cols}.");
        if (scales.Length != rows) throw new ArgumentException($"'{name}': {scales.Length} scales, expected {rows}.");
        Matrix = new PackedInt8Matrix(weights, rows, cols, scales, bias);
    }

    /// <summary>Wraps an already packed <paramref name="matrix"/> (the loader packs straight from the file's bytes).</summary>
    public Int8Linear(string name, PackedInt8Matrix matrix, float[] bias) : base(name, matrix.Rows, matrix.Cols, bias) => Matrix = matrix;

    /// <summary>The packed weights, scales and bias.</summary>
    public PackedInt8Matrix Matrix { get; }

    /// <inheritdoc />
    public override long WeightBytes => (long)Rows * Cols + 4L * Rows;

    /// <inheritdoc />
    public override bool UsesQuantizedInput => true;

    /// <inheritdoc />
    protected override void Prepare(ReadOnlySpan<float> x, int count, QuantizedActivations scratch, RowParallel? parallel) =>
        TokenParallel.Quantize(parallel, x, count, Cols, scratch);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void QuantizeTokens(ReadOnlySpan<float> x, int count, int t0, int t1, QuantizedActivations scratch)
    {
        scratch.EnsureHolds(count, Cols);
        TokenParallel.QuantizeRows(x, Cols, scratch, t0, t1);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    protected override void ComputeRows(ReadOnlySpan<float> x, QuantizedActivations scratch,
        Span<float> y, int count, int t0, int t1, int start, int end, int chunkRows)
    {
        const int g = PackedInt8Matrix.GroupRows;
        int n = t1 - t0;
        // The tokens' quantized rows, and for a batch the GEMM tile's interleaved activations, made once for every chunk below.
        scratch.Rows(t0, n, Cols, out var qs, out var scaleRows, out var offsetRows);
        var prepared = n > 1 ? Int8MatVec.PrepareBatch(qs, scaleRows, offsetRows, n, Matrix.PaddedCols) : null;
        for (int r0 = start; r0 < end; r0 += chunkRows)
        {
            int g0 = r0 / g, g1 = (Math.Min(end, r0 + chunkRows) + g - 1) / g;
            if (n > 1)
            {
                // Prefill: the GEMM tiles tokens over this chunk of weights (bit-identical to the per-token calls below).
                Int8MatVec.ComputeBatch(Matrix, g0, g1, qs, scaleRows, offsetRows, n, y.Slice(t0 * Rows, n * Rows), prepared);
                continue;
            }
            Int8MatVec.Compute(Matrix, g0, g1, qs, scaleRows, offsetRows, y.Slice(t0 * Rows, Rows));
        }
    }
}

/// <summary>fp32 Linear for fp32 model files: weights <c>[out, in]</c> as stored in the checkpoint.</summary>
internal sealed class Fp32Linear : ManagedLinear
{
    /// <summary>Takes ownership of <paramref name="weights"/> (<c>[rows, cols]</c>, row-major, from a cache-line boundary:
    /// the loader transposes the file's weights straight into it).</summary>
    public Fp32Linear(string name, int rows, int cols, AlignedArray<float> weights, float[] bias) : base(name, rows, cols, bias)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"'{name}': {weights.Length} weights, expected {rows}x{cols}.");
        Weights = weights;
    }

    /// <summary>Copies <paramref name="weights"/> (<c>[rows, cols]</c>, row-major).</summary>
    public Fp32Linear(string name, int rows, int cols, ReadOnlySpan<float> weights, float[] bias) : this(name, rows, cols, Copy(weights), bias) { }

    private static AlignedArray<float> Copy(ReadOnlySpan<float> weights)
    {
        var copy = new AlignedArray<float>(weights.Length, zeroed: false);
        weights.CopyTo(copy.Span);
        return copy;
    }

    /// <summary>Weights <c>[out, in]</c>, from a 64-byte boundary.</summary>
    public AlignedArray<float> Weights { get; }

    /// <inheritdoc />
    public override long WeightBytes => 4L * Weights.Length;

    /// <inheritdoc />
    protected override void Prepare(ReadOnlySpan<float> x, int count, QuantizedActivations scratch, RowParallel? parallel) { }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    protected override void ComputeRows(ReadOnlySpan<float> x, QuantizedActivations scratch,
        Span<float> y, int count, int t0, int t1, int start, int end, int chunkRows)
    {
        int cols = Cols;
        for (int r0 = start; r0 < end; r0 += chunkRows)
        {
            int n = Math.Min(chunkRows, end - r0);
            var w = Weights.AsSpan(r0 * cols, n * cols);
            var bias = Bias.Length == 0 ? default : Bias.AsSpan(r0, n);
            for (int t = t0; t < t1; t++)
                Fp32MatVec.Compute(w, x.Slice(t * cols, cols), bias, y.Slice(t * Rows + r0, n));
        }
    }
}
