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
