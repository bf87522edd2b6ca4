using EdgeShortcut.Core;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>The two-thread split and the multi-token path give exactly the single-thread, one-token result.</summary>
public class RowParallelTests
{
    [Theory]
    [InlineData("int8")]
    [InlineData("weight-only int8")]
    [InlineData("fp32")]
    public void A_split_matrix_gives_bit_identical_outputs(string kind)
    {
        const int rows = 2060, cols = 300;   // 618,000 weights: above the threshold, rows not a multiple of 8
        Assert.True((long)rows * cols >= ManagedLinear.ParallelThreshold);
        var rng = new Random(17);
        var w = new NamedTensor("m.weight", [rows, cols], [.. Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5))]);
        var bias = Enumerable.Range(0, rows).Select(_ => (float)rng.NextDouble()).ToArray();
        ManagedLinear linear;
        if (kind != "fp32")
        {
            var q = new sbyte[rows * cols];
            var scales = new float[rows];
            Int8Quantization.QuantizeRows(w.Data, rows, cols, q, scales);
            linear = kind == "int8" ? new Int8Linear("m", rows, cols, q, scales, bias) : new WeightOnlyInt8Linear("m", rows, cols, q, scales, bias);
        }
        else linear = new Fp32Linear("m", rows, cols, w.Data, bias);

        using var parallel = new RowParallel();
        const int T = 5;
        var scratch = new QuantizedActivations(T, cols);
        var single = new float[rows];
        var split = new float[rows];
        for (int rep = 0; rep < 200; rep++)   // many hand-offs: exercises the spin and the sleep paths
        {
            var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            linear.Apply(x, single, 1, scratch, parallel: null);
            linear.Apply(x, split, 1, scratch, parallel);
            Assert.Equal(single, split);
            if (rep % 50 == 49) Thread.Sleep(5);   // let the helper fall asleep, then wake it
        }

        // T rows at once (prefill), split or not: each row equals its own one-row product.
        var xs = Enumerable.Range(0, T * cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var batch = new float[T * rows];
        var batchSplit = new float[T * rows];
        linear.Apply(xs, batch, T, scratch, parallel: null);
        linear.Apply(xs, batchSplit, T, scratch, parallel);
        Assert.Equal(batch, batchSplit);
        for (int t = 0; t < T; t++)
        {
            linear.Apply(xs.AsSpan(t * cols, cols), single, 1, scratch, parallel: null);
            Assert.Equal(single, batch.AsSpan(t * rows, rows).ToArray());
        }
    }

    [Fact]
    public void A_disposed_helper_refuses_work()
    {
        var p = new RowParallel();
        p.Dispose();
        p.Dispose();
        var linear = new Fp32Linear("m", 2048, 256, new float[2048 * 256], []);   // at the threshold: shared with the helper
        Assert.Throws<ObjectDisposedException>(() => linear.Apply(new float[256], new float[2048], 1, new QuantizedActivations(1, 256), p));
    }

    [Fact]
    public void A_prefill_batch_shares_a_matrix_below_the_single_token_threshold()
    {
        const int rows = 768, cols = 256, T = 128;   // a d256 model's qkv: 196,608 weights, below ParallelThreshold
        Assert.True((long)rows * cols < ManagedLinear.ParallelThreshold);
        var rng = new Random(3);
        var linear = new Fp32Linear("qkv", rows, cols, [.. Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5))], new float[rows]);
        var x = Enumerable.Range(0, T * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var scratch = new QuantizedActivations(T, cols);
        using var parallel = new RowParallel();

        var single = new float[rows];
        linear.Apply(x.AsSpan(0, cols), single, 1, scratch, parallel);
        Assert.Equal(0, parallel.TwoThreadJobs);   // one token: the hand-off would cost more than the rows

        var alone = new float[T * rows];
        var shared = new float[T * rows];
        linear.Apply(x, alone, T, scratch, parallel: null);
        linear.Apply(x, shared, T, scratch, parallel);
        Assert.Equal(1, parallel.TwoThreadJobs);
        Assert.Equal(alone, shared);
    }

    [Fact]
    public void During_a_burst_the_helper_waits_awake_and_sleeps_again_after_it()
    {
        using var parallel = new RowParallel();
        var linear = new Fp32Linear("m", 1024, 256, [.. Enumerable.Range(0, 1024 * 256).Select(i => (i % 7) * 0.01f)], new float[1024]);
        var x = Enumerable.Range(0, 256).Select(i => i * 0.001f).ToArray();
        var y = new float[1024];
        var expected = new float[1024];
        linear.Apply(x, expected, 1, new QuantizedActivations(1, 256), parallel: null);
        Assert.True(SpinWait.SpinUntil(() => parallel.HelperSleeping, TimeSpan.FromSeconds(2)));

        parallel.BeginBurst();
        Assert.True(parallel.InBurst);
        for (int rep = 0; rep < 200; rep++)
        {
            linear.Apply(x, y, 1, new QuantizedActivations(1, 256), parallel);
            Assert.Equal(expected, y);
        }
        // A burst without jobs costs at most BurstSpinTicks of spinning per gap: the helper falls asleep anyway.
        Assert.True(SpinWait.SpinUntil(() => parallel.HelperSleeping, TimeSpan.FromSeconds(2)));
        parallel.EndBurst();
        Assert.False(parallel.InBurst);
        linear.Apply(x, y, 1, new QuantizedActivations(1, 256), parallel);
        Assert.Equal(expected, y);
        Assert.True(SpinWait.SpinUntil(() => parallel.HelperSleeping, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void Disposing_during_a_burst_stops_the_helper()
    {
        var parallel = new RowParallel();
        parallel.BeginBurst();
        parallel.Dispose();   // returns: the spinning helper sees the flag and exits (Dispose joins it)
        Assert.Throws<ObjectDisposedException>(parallel.BeginBurst);
    }
}
