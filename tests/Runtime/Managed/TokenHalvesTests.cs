using System.Diagnostics;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>A prefill chunk's token rows stay with one thread from op to op: the caller takes the first half and the helper
/// the rest (<see cref="RowParallel.RunHalves"/>), at splits that suit the GEMM tiles and balance causal attention.</summary>
public unsafe class TokenHalvesTests
{
    private struct Record
    {
        public int CallerThread, FirstStartThread, FirstStart, FirstEnd, SecondThread, SecondStart, SecondEnd;
        public volatile bool SecondStarted;
    }

    private static void RecordHalf(void* context, int start, int end)
    {
        ref Record r = ref *(Record*)context;
        if (start == 0)
        {
            (r.FirstStartThread, r.FirstStart, r.FirstEnd) = (Environment.CurrentManagedThreadId, start, end);
            // Wait (bounded) until the other half has started, so that it cannot be this thread that takes it.
            var until = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (!r.SecondStarted && Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
            return;
        }
        (r.SecondThread, r.SecondStart, r.SecondEnd) = (Environment.CurrentManagedThreadId, start, end);
        r.SecondStarted = true;
    }

    [Fact]
    public void The_caller_runs_the_first_half_and_the_helper_the_second()
    {
        // A helper descheduled on a busy test host between starting its half and reporting it counts as a stall, after which
        // jobs run on the caller alone for a while (whole, not in halves): here that stretch lasts one tick.
        using var parallel = new RowParallel(soloTicksAfterStall: 1);
        int asSplit = 0, stolen = 0;
        for (int rep = 0; rep < 20; rep++)
        {
            var record = new Record { CallerThread = Environment.CurrentManagedThreadId };
            parallel.RunHalves(&RecordHalf, &record, 128, 48);
            Assert.Equal((0, 48, 48, 128), (record.FirstStart, record.FirstEnd, record.SecondStart, record.SecondEnd));
            if (record.FirstStartThread == record.CallerThread)
            {
                Assert.NotEqual(record.CallerThread, record.SecondThread);
                asSplit++;
            }
            else
            {
                // A caller descheduled between posting the job and claiming its half (the full test run shares two cores
                // with libtorch): the helper, done with its own half, takes the other one too. Never the other way round.
                Assert.Equal(record.SecondThread, record.FirstStartThread);
                stolen++;
            }
        }
        Assert.True(asSplit >= 15, $"the caller ran the first half in {asSplit} of 20 jobs");
        // The helper counts its chunks after the job is done, so the count may trail the caller's return a little.
        int helperChunks = asSplit + 2 * stolen;
        Assert.True(SpinWait.SpinUntil(() => parallel.HelperChunks == helperChunks, TimeSpan.FromSeconds(5)),
            $"{parallel.HelperChunks} helper chunks, expected {helperChunks}");
    }

    [Fact]
    public void A_split_must_leave_rows_on_both_sides()
    {
        using var parallel = new RowParallel();
        foreach (int split in new[] { 0, 16, -1 })
            Assert.Throws<ArgumentOutOfRangeException>(() => parallel.RunHalves(&RecordHalf, null, 16, split));
    }

    [Fact]
    public void The_token_split_is_a_whole_number_of_GEMM_tiles_near_the_middle()
    {
        const int tile = EdgeShortcut.Runtime.Managed.Kernels.Int8MatVec.WideTileTokens;
        for (int count = TokenParallel.MinSharedTokens; count <= RunState.MaxChunkTokens; count++)
        {
            int split = TokenParallel.Split(count);
            Assert.Equal(0, split % tile);
            Assert.InRange(split, tile, count - tile);
            Assert.True(Math.Abs(2 * split - count) <= tile, $"{count} tokens split at {split}");
        }
        Assert.Equal(64, TokenParallel.Split(128));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenParallel.Split(TokenParallel.MinSharedTokens - 1));
    }

    [Theory]
    [InlineData(128, 0)]
    [InlineData(128, 128)]
    [InlineData(22, 128)]
    [InlineData(16, 0)]
    public void The_attention_split_balances_the_causal_cost(int T, int p0)
    {
        // Query t attends over p0 + t + 1 positions; the split is the block edge nearest half of the total.
        long Cost(int from, int to) => Enumerable.Range(from, to - from).Sum(t => (long)p0 + t + 1);
        int q = EdgeShortcut.Runtime.Managed.Kernels.QueryBlockAttention.Queries, blocks = (T + q - 1) / q;
        int split = ParallelAttention.BalancedSplit(T, p0);
        Assert.InRange(split, 1, blocks - 1);
        long gap = Math.Abs(Cost(0, split * q) - Cost(split * q, T));
        for (int b = 1; b < blocks; b++) Assert.True(gap <= Math.Abs(Cost(0, b * q) - Cost(b * q, T)) + 2 * (p0 + T), $"block {b} balances better than {split}");
        if (p0 == 0 && T == 128) Assert.InRange(split * q, 88, 92);   // not the token split (64): the later queries cost more
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(40)]
    public void A_residual_gets_the_products_added_on_whichever_thread_computed_them(int T)
    {
        const int rows = 768, cols = 256;   // splits for a batch of 16+ tokens (token halves) and, with 5 tokens, not at all
        var rng = new Random(11);
        var q = new sbyte[rows * cols];
        var scales = new float[rows];
        Int8Quantization.QuantizeRows([.. Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5))], rows, cols, q, scales);
        var linear = new Int8Linear("m", rows, cols, q, scales, [.. Enumerable.Range(0, rows).Select(_ => (float)rng.NextDouble())]);
        var x = Enumerable.Range(0, T * cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var before = Enumerable.Range(0, T * rows).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var scratch = new QuantizedActivations(T, cols);
        using var parallel = new RowParallel();

        var y = new float[T * rows];
        linear.Apply(x, y, T, scratch, parallel: null);
        var expected = before.Zip(y, (a, b) => a + b).ToArray();
        foreach (var p in new[] { null, parallel })
        {
            var residual = (float[])before.Clone();
            var branch = new float[T * rows];
            linear.Apply(x, branch, T, scratch, p, residual: residual);
            Assert.Equal(y, branch);
            Assert.Equal(expected, residual);
        }
        // The quantization and the product, in halves (or on the caller alone, if a busy test host made the helper stall).
        Assert.Equal(T >= TokenParallel.MinSharedTokens ? 2 : 0, parallel.TwoThreadJobs + parallel.SoloRuns);
        Assert.Throws<ArgumentException>(() => linear.Apply(x, new float[T * rows], T, scratch, null, residual: new float[T * rows - 1]));
    }

    [Fact]
    public void A_model_whose_matrices_split_only_in_a_prefill_chunk_gets_a_helper_that_decode_leaves_alone()
    {
        if (Environment.ProcessorCount < 2) return;   // the helper thread exists only with a second core
        var c = ModelConfig.Create(2, 128, 4, 64, shortcut: false).Validate();   // d128: no matrix of 2^18 weights
        var weights = EdgeShortcut.Tests.Support.TinyCheckpoint.RandomWeights(c, seed: 5);
        using var engine = ManagedTestModels.Engine(c, weights, int8: true, EdgeShortcut.Runtime.ActivationPrecision.Int8);
        Assert.True(engine.UsesHelperThread);
        using var sequence = engine.CreateManagedSequence();
        var parallel = sequence.Parallel!;
        for (int t = 0; t < 8; t++) sequence.Append([t]);   // decode: every matrix and attention on the calling thread
        Assert.Equal(0, parallel.TwoThreadJobs + parallel.SoloRuns);
        sequence.Append([.. Enumerable.Range(0, 32).Select(i => i * 3)]);   // a prefill chunk: its stages go to both threads
        Assert.True(parallel.TwoThreadJobs + parallel.SoloRuns > 0);
    }
}
