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
        const int rows = 1030, cols = 300;   // 309,000 weights: above the threshold, rows not a multiple of 8
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
        var linear = new Fp32Linear("m", 1024, 256, new float[1024 * 256], []);
        Assert.Throws<ObjectDisposedException>(() => linear.Apply(new float[256], new float[1024], 1, new QuantizedActivations(1, 256), p));
    }
}
