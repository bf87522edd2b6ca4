using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class ActivationQuantizerTests
{
    private static (sbyte[] Q, float[] Scales, int[] Offsets) Quantize(float[] x, bool vectorized = true)
    {
        var q = new sbyte[ActivationQuantizer.PaddedLength(x.Length)];
        var scales = new float[ActivationQuantizer.BlockCount(x.Length)];
        var offsets = new int[scales.Length];
        ActivationQuantizer.Quantize(x, q, scales, offsets, vectorized);
        return (q, scales, offsets);
    }

    [Fact]
    public void Each_block_of_32_gets_its_own_scale_and_vectorized_equals_scalar()
    {
        var rng = new Random(3);
        for (int n = 1; n <= 300; n++)
        {
            // Block magnitudes differ by up to 100x, so one scale per row would lose the small blocks.
            var x = Enumerable.Range(0, n).Select(i => (float)((rng.NextDouble() - 0.5) * 6 * (1 + (i / 32 % 3) * 50))).ToArray();
            var (qv, sv, ov) = Quantize(x, vectorized: true);
            var (qs, ss, os) = Quantize(x, vectorized: false);
            Assert.Equal(ss, sv);
            Assert.Equal(os, ov);
            Assert.True(qs.AsSpan().SequenceEqual(qv), $"length {n}");
            for (int b = 0; b < sv.Length; b++)
            {
                var block = x.AsSpan(b * 32, Math.Min(32, n - b * 32)).ToArray();
                Assert.Equal(block.Max(MathF.Abs) / 127f, sv[b]);
                Assert.Contains(qv.Skip(b * 32).Take(block.Length), q => Math.Abs((int)q) == 127);
                Assert.Equal(128 * qv.Skip(b * 32).Take(32).Sum(q => (int)q), ov[b]);
            }
            for (int i = 0; i < n; i++)
                Assert.True(MathF.Abs(x[i] - qv[i] * sv[i / 32]) <= 0.5f * sv[i / 32] * 1.0001f, $"length {n}, element {i}");
            Assert.All(qv.Skip(n), q => Assert.Equal(0, q));   // padding
        }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(200)]
    [InlineData(256)]
    [InlineData(768)]
    [InlineData(3072 + 40)]
    public void Groups_of_up_to_eight_blocks_with_zero_huge_and_non_finite_blocks_equal_the_scalar_reference(int n)
    {
        var rng = new Random(n);
        foreach (float special in new[] { 0f, 3e38f, float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var x = Enumerable.Range(0, n).Select(i => (float)((rng.NextDouble() - 0.5) * 4 * (1 + (i / 32 % 5) * 30))).ToArray();
            x.AsSpan(32, 32).Clear();             // a zero block inside the first group of eight
            if (n > 5 * 32 + 7) x[5 * 32 + 7] = -0f;
            x[Math.Max(0, n - 1 - 100)] = special;   // the last group holding a special value (all of it, for n <= 256)
            if (n > 6 * 32 + 3) x[6 * 32 + 3] = special == 0f ? 0f : 1e-40f;   // a denormal next to it
            var (qv, sv, ov) = Quantize(x, vectorized: true);
            var (qs, ss, os) = Quantize(x, vectorized: false);
            Assert.Equal(ss, sv);
            Assert.Equal(os, ov);
            Assert.True(qs.AsSpan().SequenceEqual(qv), $"length {n}, special {special}");
            Assert.Equal(0f, sv[1]);
        }
    }

    [Fact]
    public void Ties_round_to_even_like_the_weight_quantizer()
    {
        // max 127 makes the step exactly 1, so 0.5 and 2.5 are exact ties.
        float[] x = [127f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f];
        var (q, scales, offsets) = Quantize(x);
        Assert.Equal([1f], scales);
        Assert.Equal(new sbyte[] { 127, 0, 2, 2, 0, -2, -2, 3 }, q.Take(8));
        Assert.Equal([128 * (127 + 2 + 2 - 2 - 2 + 3)], offsets);
    }

    [Fact]
    public void A_zero_block_gets_scale_zero_and_a_non_finite_block_a_NaN_scale_without_touching_the_others()
    {
        var x = Enumerable.Range(0, 96).Select(i => (float)i - 48).ToArray();
        x.AsSpan(0, 32).Clear();
        x[70] = float.NaN;
        var (q, scales, _) = Quantize(x);
        Assert.Equal(0f, scales[0]);
        Assert.All(q.Take(32), v => Assert.Equal(0, v));
        Assert.Equal(16f / 127f, scales[1]);   // block 1 holds -16..15
        Assert.True(float.IsNaN(scales[2]));
        Assert.All(q.Skip(64), v => Assert.Equal(0, v));
        x[70] = float.PositiveInfinity;
        Assert.True(float.IsNaN(Quantize(x).Scales[2]));
        x[70] = 3e38f;                                     // huge but finite: a real scale, on both paths
        Assert.Equal(3e38f / 127f, Quantize(x).Scales[2]);
        Assert.Equal(3e38f / 127f, Quantize(x, vectorized: false).Scales[2]);
    }

    [Fact]
    public void Destinations_of_the_wrong_length_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(new float[40], new sbyte[40], new float[2], new int[2]));
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(new float[40], new sbyte[64], new float[1], new int[2]));
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(new float[40], new sbyte[64], new float[2], new int[3]));
    }
}
