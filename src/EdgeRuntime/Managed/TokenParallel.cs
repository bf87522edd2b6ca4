using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Token rows shared between the two threads by halves (<see cref="RunTokens"/>, <see cref="Split"/>: the caller the first
/// tokens, the helper the rest, the same split for every op of a chunk), and the per-token work of a batch (LayerNorm,
/// and the int8 activation quantization of a Linear's input):
/// <code>
/// normed[t] = LN(x[t])                      # LayerNorm, when given
/// quantized row t = quantize(normed[t])     # or of x[t] when there is no LayerNorm; when given
/// </code>
/// A prefill chunk runs these rows inside <see cref="PrefillBlock"/>'s stages (<see cref="LayerNormRows"/>, each thread its
/// own tokens); <see cref="Quantize"/> serves <see cref="ManagedLinear.Apply"/> on a batch. Each row's arithmetic is that of the serial loop, so the bits do not change. Short batches (decode, a few
/// drafted tokens) stay on the calling thread: a hand-off costs more than the rows.
/// </summary>
internal static unsafe class TokenParallel
{
    /// <summary>Token rows from which the work is shared with the helper thread.</summary>
    public const int MinSharedTokens = 16;

    private struct Job
    {
        public float* X;
        public int Cols;
        public QuantizedActivations QuantizeInto;   // lives on the caller's stack frame until Quantize returns, like ManagedLinear's job
    }

    /// <summary><c>normed[t] = LN(x[t])</c> for the rows <paramref name="t0"/>..<paramref name="t1"/>-1 of <paramref name="x"/>
    /// <c>[count, cols]</c>, then, when <paramref name="quantizeInto"/> is given, row t of it = quantize(normed[t]); on this
    /// thread (a prefill stage runs it over its own tokens, <see cref="PrefillBlock"/>; a decode step over its one token).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNormRows(ReadOnlySpan<float> x, NormWeights ln, float eps, Span<float> normed, int count,
        QuantizedActivations? quantizeInto, int t0, int t1)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "At least one row.");
        int cols = x.Length / count;
        if (x.Length != (long)count * cols || normed.Length < x.Length || ln.Weight.Length != cols || ln.Bias.Length != cols)
            throw new ArgumentException($"LayerNorm of {count} rows: x has {x.Length} values, normed {normed.Length}, weight {ln.Weight.Length}, bias {ln.Bias.Length}.");
        if (t0 < 0 || t1 > count || t0 > t1) throw new ArgumentOutOfRangeException(nameof(t0), $"Rows {t0}..{t1 - 1} are not a range of 0..{count - 1}.");
        quantizeInto?.EnsureHolds(count, cols);
        for (int t = t0; t < t1; t++)
        {
            var row = normed.Slice(t * cols, cols);
            Kernels.LayerNorm.Apply(x.Slice(t * cols, cols), ln.Weight, ln.Bias, eps, row);
            quantizeInto?.QuantizeColumns(row, t, cols, 0);
        }
    }

    /// <summary>Row t of <paramref name="quantizeInto"/> = quantize(x[t]) for the <paramref name="count"/> rows of
    /// <paramref name="x"/> <c>[count, cols]</c>, in halves on both threads from <see cref="MinSharedTokens"/> rows.</summary>
    public static void Quantize(RowParallel? parallel, ReadOnlySpan<float> x, int count, int cols, QuantizedActivations quantizeInto)
    {
        quantizeInto.EnsureHolds(count, cols);   // before any row, on this thread
        fixed (float* xp = x)
        {
            var job = new Job { X = xp, Cols = cols, QuantizeInto = quantizeInto };
            RunTokens(parallel, &QuantizeJob, Unsafe.AsPointer(ref job), count);
        }
    }

    /// <summary>Rows <paramref name="t0"/>..<paramref name="t1"/>-1 of <see cref="Quantize"/>, on this thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRows(ReadOnlySpan<float> x, int cols, QuantizedActivations quantizeInto, int t0, int t1)
    {
        for (int t = t0; t < t1; t++) quantizeInto.QuantizeColumns(x.Slice(t * cols, cols), t, cols, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizeJob(void* context, int t0, int t1)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        QuantizeRows(new ReadOnlySpan<float>(j.X, t1 * j.Cols), j.Cols, j.QuantizeInto, t0, t1);
    }

    /// <summary>The first token of the helper's half of a chunk of <paramref name="count"/> tokens: about half, on a
    /// multiple of the GEMM's 8-token tile, the same for every op of the chunk (so each token row stays with one thread).</summary>
    public static int Split(int count)
    {
        if (count < MinSharedTokens) throw new ArgumentOutOfRangeException(nameof(count), count, $"Chunks of fewer than {MinSharedTokens} tokens are not split.");
        const int tile = Kernels.Int8MatVec.WideTileTokens;
        return Math.Clamp((count + tile) / (2 * tile) * tile, tile, count - tile);
    }

    /// <summary>Runs <c>job(context, t0, t1)</c> over the token rows <c>0..count-1</c>: the caller's and the helper's
    /// halves (<see cref="Split"/>) on both threads from <see cref="MinSharedTokens"/> tokens, else all on this one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunTokens(RowParallel? parallel, delegate*<void*, int, int, void> job, void* context, int count)
    {
        if (parallel is null || count < MinSharedTokens) job(context, 0, count);
        else parallel.RunHalves(job, context, count, Split(count));
    }
}
