using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class ElementwiseKernelTests
{
    /// <summary>erf in double: Taylor series for |x| &lt;= 3, continued fraction of erfc beyond (both ~1e-14).</summary>
    internal static double ErfDouble(double x)
    {
        double a = Math.Abs(x);
        if (a <= 3)
        {
            double term = a, sum = a;
            for (int n = 1; n < 200; n++)
            {
                term *= -a * a / n;
                sum += term / (2 * n + 1);
                if (Math.Abs(term) < 1e-18) break;
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + ...))))), evaluated bottom-up.
        double f = a;
        for (int k = 60; k >= 1; k--) f = a + k / 2.0 / f;
        double erfc = Math.Exp(-a * a) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }

    [Fact]
    public void Erf_is_within_1e_6_of_a_double_precision_reference_everywhere()
    {
        Assert.Equal(0.8427007929497149, ErfDouble(1), 1e-13);   // erf(1), tabulated
        Assert.Equal(0.9999779095030014, ErfDouble(3), 1e-13);
        Assert.Equal(0.9999999845827421, ErfDouble(4), 1e-13);
        double worst = 0;
        for (double x = -8; x <= 8; x += 1e-3)
        {
            float scalar = Gelu.Erf((float)x);
            worst = Math.Max(worst, Math.Abs(scalar - ErfDouble((float)x)));
            // Every lane of the vector forms gives the scalar bits (so a loop's scalar tail agrees with its lanes).
            Assert.Equal(scalar, Gelu.Erf(System.Runtime.Intrinsics.Vector256.Create((float)x))[3]);
            Assert.Equal(scalar, Gelu.Erf(System.Runtime.Intrinsics.Vector512.Create((float)x))[11]);
        }
        Assert.True(worst < 1e-6, $"worst |erf error| = {worst:E2}");
    }

    [Fact]
    public void FastExp_is_within_1_ulp_of_exp_over_its_domain_and_its_lanes_give_the_scalar_bits()
    {
        double worstUlps = 0;
        for (float x = FastExp.Min; x <= 0; x += 0.0007f)
        {
            float e = FastExp.Exp(x);
            double exact = Math.Exp(x);
            double ulp = MathF.BitIncrement((float)exact) - (float)exact;   // one float ulp at the value
            worstUlps = Math.Max(worstUlps, Math.Abs(e - exact) / ulp);
            Assert.Equal(e, FastExp.Exp(System.Runtime.Intrinsics.Vector256.Create(x))[5]);
            Assert.Equal(e, FastExp.Exp(System.Runtime.Intrinsics.Vector512.Create(x))[9]);
        }
        Assert.True(worstUlps <= 1, $"worst error {worstUlps:F2} ulp");
        Assert.Equal(1f, FastExp.Exp(0f));
        Assert.Equal(1f, FastExp.Exp(-0f));
        Assert.True(float.IsNormal(FastExp.Exp(FastExp.Min)));
    }

    [Fact]
    public void Gelu_gives_every_element_the_bits_of_the_scalar_formula_whichever_loop_reaches_it()
    {
        var rng = new Random(8);
        var x = Enumerable.Range(0, 300).Select(_ => (float)((rng.NextDouble() - 0.5) * 12)).ToArray();
        var y = (float[])x.Clone();
        Gelu.Apply(y);   // 16-lane, 8-lane and scalar loops for elements 0..287, 288..295, 296..299
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(0.5f * x[i] * (1f + Gelu.Erf(x[i] * 0.70710678118654752f)), y[i]);
    }

    [Fact]
    public void Gelu_matches_the_exact_erf_formula_for_every_length_1_to_300()
    {
        var rng = new Random(5);
        for (int n = 1; n <= 300; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * 16)).ToArray();
            var y = (float[])x.Clone();
            Gelu.Apply(y);
            for (int i = 0; i < n; i++)
            {
                double expected = 0.5 * x[i] * (1 + ErfDouble(x[i] / Math.Sqrt(2)));
                Assert.True(Math.Abs(y[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(x[i])), $"n {n}, x {x[i]}: {y[i]} vs {expected}");
            }
        }
        float[] special = [0f, -0f, -20f, 20f];
        Gelu.Apply(special);
        Assert.Equal([0f, 0f, 0f, 20f], special);
    }

    [Theory]
    [InlineData(16, 8, 0, 32)]      // whole 8 x 8 tiles
    [InlineData(21, 13, 5, 40)]     // partial tiles in both directions, at an offset
    [InlineData(768, 128, 128, 256)]
    [InlineData(5, 3, 0, 3)]        // too few tokens for a tile
    public void Key_transpose_puts_every_channel_of_every_token_at_its_cache_position_and_nothing_else(int d, int T, int p0, int n)
    {
        int stride = 3 * d;
        var src = Enumerable.Range(0, T * stride).Select(i => (float)i).ToArray();
        var keys = Enumerable.Repeat(-1f, d * n).ToArray();
        KeyTranspose.Append(src.AsSpan(d), stride, d, T, keys, n, p0);
        for (int c = 0; c < d; c++)
            for (int p = 0; p < n; p++)
                Assert.Equal(p >= p0 && p < p0 + T ? src[(p - p0) * stride + d + c] : -1f, keys[c * n + p]);
        Assert.Throws<ArgumentOutOfRangeException>(() => KeyTranspose.Append(src.AsSpan(d), stride, d, T, keys, n, n - T + 1));
    }

    [Fact]
    public void LayerNorm_matches_a_double_reference_even_with_a_large_mean()
    {
        var rng = new Random(9);
        foreach (int d in new[] { 1, 2, 7, 40, 64, 128, 301 })   // 40: the 256-bit sums on an AVX-512 CPU too
        {
            var x = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 + 100)).ToArray();
            var w = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() + 0.5)).ToArray();
            var b = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var y = new float[d];
            LayerNorm.Apply(x, w, b, 1e-5f, y);
            double mean = x.Average(v => (double)v);
            double variance = x.Average(v => (v - mean) * (v - mean));
            for (int i = 0; i < d; i++)
            {
                double expected = (x[i] - mean) / Math.Sqrt(variance + 1e-5) * w[i] + b[i];
                Assert.Equal(expected, y[i], 1e-4);
            }
        }
        Assert.Throws<ArgumentException>(() => LayerNorm.Apply(new float[3], new float[2], new float[3], 1e-5f, new float[3]));
    }

    [Theory]
    [InlineData(128)]
    [InlineData(301)]
    [InlineData(768)]
    public void LayerNorm_gives_a_row_the_same_bits_wherever_it_sits_in_memory(int d)
    {
        // A prefill normalizes rows at every offset of its buffers and a decode step its first row: the sums' order must
        // not depend on the address (a vectorized sum that first aligns its pointer would be free to).
        var rng = new Random(d);
        var x = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 6 - 3 + 40)).ToArray();
        var w = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() + 0.5)).ToArray();
        var b = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var reference = new float[d];
        LayerNorm.Apply(x, w, b, 1e-5f, reference);
        for (int offset = 1; offset < 17; offset++)
        {
            var shifted = new float[d + offset];
            x.CopyTo(shifted, offset);
            var y = new float[d + 17 - offset];
            LayerNorm.Apply(shifted.AsSpan(offset), w, b, 1e-5f, y.AsSpan(17 - offset, d));
            Assert.True(reference.AsSpan().SequenceEqual(y.AsSpan(17 - offset, d)), $"d {d}, offset {offset}");
        }
    }

    [Fact]
    public void Softmax_matches_the_double_precision_formula_for_every_length_1_to_100_and_flushes_tiny_terms()
    {
        var rng = new Random(31);
        for (int n = 1; n <= 100; n++)
        {
            var s = Enumerable.Range(0, n).Select(i => (float)(rng.NextDouble() * 40 - 20 - (i % 9 == 0 ? 150 : 0))).ToArray();
            var p = (float[])s.Clone();
            Softmax.Apply(p);
            double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
            for (int i = 0; i < n; i++)
            {
                double expected = Math.Exp(s[i] - max) / sum;
                Assert.True(Math.Abs(p[i] - expected) < 1e-6, $"n {n}, i {i}: {p[i]} vs {expected}");
                if (s[i] - max < Softmax.FlushBelow) Assert.Equal(0f, p[i]);   // never a sub-normal number
            }
        }
    }

    [Theory]
    [InlineData(5, 2)]      // the scalar loop
    [InlineData(16, 3)]     // a vector lane of the first block
    [InlineData(40, 37)]    // a later block
    [InlineData(21, 20)]    // the tail after the vector blocks
    public void A_NaN_score_makes_every_probability_NaN_wherever_it_sits(int n, int at)
    {
        var s = Enumerable.Range(0, n).Select(i => i * 0.25f).ToArray();
        s[at] = float.NaN;
        Softmax.Apply(s);
        Assert.All(s, p => Assert.True(float.IsNaN(p)));
    }

    [Fact]
    public void Softmax_subtracts_the_max_so_huge_scores_stay_finite()
    {
        float[] s = [1000f, 999f, -1000f, 1000f];
        Softmax.Apply(s);
        double e1 = Math.Exp(-1);
        double z = 2 + e1;
        Assert.Equal(1 / z, s[0], 1e-6);
        Assert.Equal(e1 / z, s[1], 1e-6);
        Assert.Equal(0f, s[2]);
        Assert.Equal(1f, s.Sum(), 1e-6);
        float[] one = [-3.5f];
        Softmax.Apply(one);
        Assert.Equal(1f, one[0]);
        Assert.Throws<ArgumentException>(() => Softmax.Apply([]));
    }

    [Fact]
    public void Fp32_matvec_matches_a_double_reference()
    {
        var rng = new Random(11);
        foreach (var (rows, cols) in new[] { (1, 1), (3, 17), (8, 128), (5, 300) })
        {
            var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var b = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var y = new float[rows];
            Fp32MatVec.Compute(w, x, b, y);
            for (int r = 0; r < rows; r++)
                Assert.Equal(Enumerable.Range(0, cols).Sum(c => (double)w[r * cols + c] * x[c]) + b[r], y[r], 1e-5);
        }
        Assert.Throws<ArgumentException>(() => Fp32MatVec.Compute(new float[5], new float[3], [], new float[2]));
    }

    [Fact]
    public void Elementwise_add_and_scale_give_the_bits_of_TensorPrimitives_at_every_length()
    {
        var rng = new Random(8);
        for (int n = 0; n <= 100; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 200 - 100)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2e-3)).ToArray();
            var sum = new float[n];
            var expected = new float[n];
            Elementwise.Add(x, y, sum);
            System.Numerics.Tensors.TensorPrimitives.Add(x, y, expected);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), sum.Select(BitConverter.SingleToInt32Bits));
            var inPlace = (float[])x.Clone();
            Elementwise.Add(inPlace, y, inPlace);
            Assert.Equal(expected, inPlace);

            var scaled = (float[])x.Clone();
            Elementwise.Scale(scaled, 0.125f * 1.1f);
            System.Numerics.Tensors.TensorPrimitives.Multiply(x, 0.125f * 1.1f, expected);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), scaled.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Throws<ArgumentException>(() => Elementwise.Add(new float[3], new float[2], new float[3]));
    }
}
