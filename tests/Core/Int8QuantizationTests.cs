using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Core;

public class Int8QuantizationTests
{
    private static float[] RoundTrip(float[] w, int rows, int cols, out float[] scales)
    {
        var q = new sbyte[w.Length];
        scales = new float[rows];
        Int8Quantization.QuantizeRows(w, rows, cols, q, scales);
        Assert.DoesNotContain((sbyte)-128, q);
        var back = new float[w.Length];
        Int8Quantization.DequantizeRows(q, scales, rows, cols, back);
        return back;
    }

    [Fact]
    public void Random_rows_reconstruct_within_half_a_step()
    {
        var rng = new Random(1);
        int rows = 16, cols = 300;
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.1f).ToArray();
        var back = RoundTrip(w, rows, cols, out var scales);
        for (int i = 0; i < w.Length; i++)
            Assert.True(MathF.Abs(w[i] - back[i]) <= scales[i / cols] * 0.5f + 1e-9f, $"element {i}");
    }

    [Fact]
    public void All_zero_row_stays_exactly_zero()
    {
        var back = RoundTrip(new float[8], 1, 8, out var scales);
        Assert.All(back, v => Assert.Equal(0f, v));
        Assert.Equal(1f, scales[0]);
    }

    [Fact]
    public void One_huge_outlier_is_exact_and_bounds_the_rest()
    {
        var w = new float[] { 1000f, 0.001f, -0.5f, 3f };
        var back = RoundTrip(w, 1, 4, out var scales);
        Assert.Equal(1000f, back[0], 3);
        Assert.All(w.Zip(back), p => Assert.True(MathF.Abs(p.First - p.Second) <= scales[0] / 2 + 1e-4f));
    }

    [Fact]
    public void Non_finite_weights_are_refused()
    {
        var w = new float[] { 1, float.NaN };
        Assert.Throws<ArgumentException>(() => Int8Quantization.QuantizeRows(w, 1, 2, new sbyte[2], new float[1]));
    }
}
