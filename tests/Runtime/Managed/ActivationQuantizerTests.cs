using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class ActivationQuantizerTests
{
    [Fact]
    public void Vectorized_and_scalar_quantization_give_identical_bytes_and_the_error_is_at_most_half_a_step()
    {
        var rng = new Random(3);
        for (int n = 1; n <= 300; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * 6)).ToArray();
            var qv = new sbyte[n];
            var qs = new sbyte[n];
            float sv = ActivationQuantizer.Quantize(x, qv, vectorized: true);
            float ss = ActivationQuantizer.Quantize(x, qs, vectorized: false);
            Assert.Equal(ss, sv);
            Assert.True(qs.AsSpan().SequenceEqual(qv), $"length {n}");
            float max = x.Max(MathF.Abs);
            Assert.Equal(max / 127f, sv);
            Assert.Contains(qv, q => Math.Abs((int)q) == 127);
            for (int i = 0; i < n; i++)
                Assert.True(MathF.Abs(x[i] - qv[i] * sv) <= 0.5f * sv * 1.0001f, $"length {n}, element {i}");
        }
    }

    [Fact]
    public void Ties_round_to_even_like_the_weight_quantizer()
    {
        // max 127 makes the step exactly 1, so 0.5 and 2.5 are exact ties.
        float[] x = [127f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f];
        var q = new sbyte[x.Length];
        Assert.Equal(1f, ActivationQuantizer.Quantize(x, q));
        Assert.Equal(new sbyte[] { 127, 0, 2, 2, 0, -2, -2, 3 }, q);
    }

    [Fact]
    public void Zero_input_gives_zero_scale_and_non_finite_input_gives_a_NaN_scale()
    {
        var q = new sbyte[40];
        q[3] = 9;
        Assert.Equal(0f, ActivationQuantizer.Quantize(new float[40], q));
        Assert.All(q, v => Assert.Equal(0, v));
        var x = new float[40];
        x[17] = float.NaN;
        Assert.True(float.IsNaN(ActivationQuantizer.Quantize(x, q)));
        x[17] = float.PositiveInfinity;
        Assert.True(float.IsNaN(ActivationQuantizer.Quantize(x, q)));
    }

    [Fact]
    public void A_destination_of_the_wrong_length_is_rejected() =>
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(new float[4], new sbyte[3]));
}
