using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, fused activation quantization: the MLP's fc layer applies GELU and quantizes its output for the
/// proj layer inside its own job, on both threads, and gets exactly the bytes of the separate passes.</summary>
public class LinearEpilogueTests
{
    // 2080 rows = 65 blocks of 32 (not a whole number of 64-row chunks), x 256 columns: large enough to be split.
    private const int Rows = 2080, Cols = 256;

    private static (Int8Linear Fc, Int8Linear Proj, float[] X) Layers(int count)
    {
        var rng = new Random(count);
        sbyte[] W(int n) => [.. Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-127, 128))];
        float[] F(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))];
        var fc = new Int8Linear("fc", Rows, Cols, W(Rows * Cols), F(Rows, 0.002), F(Rows, 1));
        var proj = new Int8Linear("proj", Cols, Rows, W(Rows * Cols), F(Cols, 0.002), F(Cols, 1));
        return (fc, proj, F(count * Cols, 3));
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(5, true)]
    [InlineData(32, true)]
    [InlineData(32, false)]
    public void Gelu_and_quantization_in_the_fc_job_equal_the_separate_passes_bit_for_bit(int count, bool twoThreads)
    {
        Assert.True((long)Rows * Cols >= ManagedLinear.ParallelThreshold);
        var (fc, proj, x) = Layers(count);
        using var parallel = twoThreads ? new RowParallel() : null;

        var separate = new float[count * Rows];
        fc.Apply(x, separate, count, new QuantizedActivations(count, Rows), null);
        Gelu.Apply(separate);
        var separateQuantized = new QuantizedActivations(count, Rows);
        separateQuantized.Quantize(separate, count, Rows);
        var separateOut = new float[count * Cols];
        proj.Apply(separate, separateOut, count, new QuantizedActivations(count, Rows), null);

        var fused = new float[count * Rows];
        var fusedQuantized = new QuantizedActivations(count, Rows);
        fc.Apply(x, fused, count, new QuantizedActivations(count, Rows), parallel, new LinearEpilogue(Gelu: true, fusedQuantized));
        var fusedOut = new float[count * Cols];
        proj.Apply(fused, fusedOut, count, fusedQuantized, parallel, inputQuantized: true);

        Assert.Equal(separate, fused);
        Assert.Equal(separateQuantized.Q, fusedQuantized.Q);
        Assert.Equal(separateQuantized.Scales, fusedQuantized.Scales);
        Assert.Equal(separateQuantized.Offsets, fusedQuantized.Offsets);
        Assert.Equal(separateOut, fusedOut);
    }

    [Theory]
    [InlineData(512, 8)]    // heads of 64: chunks of 64 rows
    [InlineData(520, 26)]   // heads of 20: chunks of lcm(16, 20) = 80 rows
    public void A_split_qkv_product_appends_whole_heads_to_an_int8_cache_with_one_threads_bits(int d, int heads)
    {
        // A decode step's qkv product appends its keys and values in its epilogue, each thread the rows it computed; an
        // int8 slot takes one scale per head, so the chunks must hold whole heads (a split head throws in the cache).
        var rng = new Random(d);
        sbyte[] weights = [.. Enumerable.Range(0, 3 * d * d).Select(_ => (sbyte)rng.Next(-127, 128))];
        float[] F(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))];
        var qkv = new Int8Linear("qkv", 3 * d, d, weights, F(3 * d, 0.002), F(3 * d, 1));
        Assert.True(3L * d * d >= ManagedLinear.ParallelThreshold);
        using var parallel = new RowParallel();
        var oneThread = new LayerCache(d, heads, 8, KeyValueCachePrecision.Int8);
        var twoThreads = new LayerCache(d, heads, 8, KeyValueCachePrecision.Int8);
        Assert.Equal(LeastCommonMultiple(16, d / heads), new LinearEpilogue(false, null, new KeyValueAppend(twoThreads, 0, heads)).RowAlignment);
        Assert.Equal(LeastCommonMultiple(32, d / heads), new LinearEpilogue(false, new QuantizedActivations(1, d), new KeyValueAppend(twoThreads, 0, heads)).RowAlignment);
        Assert.Equal(16, new LinearEpilogue(false, null, new KeyValueAppend(new LayerCache(d, heads, 8, KeyValueCachePrecision.Float32), 0, heads)).RowAlignment);

        for (int p = 0; p < 4; p++)
        {
            var x = F(d, 3);
            var (a, b) = (new float[3 * d], new float[3 * d]);
            oneThread.MarkWritten();
            qkv.Apply(x, a, 1, new QuantizedActivations(1, d), null, new LinearEpilogue(false, null, new KeyValueAppend(oneThread, p, heads)));
            twoThreads.MarkWritten();
            qkv.Apply(x, b, 1, new QuantizedActivations(1, d), parallel, new LinearEpilogue(false, null, new KeyValueAppend(twoThreads, p, heads)));
            Assert.Equal(a, b);   // the products, with the queries scaled
        }
        for (int h = 0; h < heads; h++)
        {
            var expected = oneThread.Head(h, heads, 4);
            (float[] keys, float[] values, float[] keyScales, float[] valueScales) = (expected.Keys.ToArray(), expected.Values.ToArray(), expected.KeyScales.ToArray(), expected.ValueScales.ToArray());
            var actual = twoThreads.Head(h, heads, 4);
            Assert.Equal(keys, actual.Keys.ToArray());
            Assert.Equal(values, actual.Values.ToArray());
            Assert.Equal(keyScales, actual.KeyScales.ToArray());
            Assert.Equal(valueScales, actual.ValueScales.ToArray());
            Assert.Contains(keys, k => k != 0);
        }
    }

    private static int LeastCommonMultiple(int a, int b) => a / (int)System.Numerics.BigInteger.GreatestCommonDivisor(a, b) * b;

    [Fact]
    public void Quantizing_part_of_a_row_needs_whole_blocks_and_a_float_layer_has_no_quantized_input()
    {
        var q = new QuantizedActivations(1, 100);
        Assert.Throws<ArgumentException>(() => q.QuantizeColumns(new float[32], 0, 100, 16));   // not a block start
        Assert.Throws<ArgumentException>(() => q.QuantizeColumns(new float[40], 0, 100, 0));    // ends inside a block
        q.QuantizeColumns(new float[36], 0, 100, 64);                                            // the row's last, partial block
        var floatLayer = new Fp32Linear("f", 4, 4, new float[16], []);
        Assert.Throws<InvalidOperationException>(() => floatLayer.Apply(new float[4], new float[4], 1, q, null, inputQuantized: true));
    }
}
