using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class AttentionKernelTests
{
    [Fact]
    public void Attend_matches_naive_softmax_attention_for_every_length_1_to_300()
    {
        var rng = new Random(21);
        foreach (int hd in new[] { 1, 3, 8, 32, 37 })
        {
            const int capacity = 301;   // stride > n: the kernel may read past n in a row but must only use the first n positions
            var kt = Enumerable.Range(0, hd * capacity).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var v = Enumerable.Range(0, capacity * hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var q = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            for (int n = 1; n <= 300; n++)
            {
                var scores = new float[n];
                var output = new float[hd];
                AttentionKernels.Attend(q, kt, capacity, v, scores, output);

                var s = new double[n];
                for (int u = 0; u < n; u++)
                    for (int c = 0; c < hd; c++) s[u] += (double)q[c] * kt[c * capacity + u];
                double max = s.Max();
                var p = s.Select(x => Math.Exp(x - max)).ToArray();
                double sum = p.Sum();
                for (int c = 0; c < hd; c++)
                {
                    double expected = 0;
                    for (int u = 0; u < n; u++) expected += p[u] / sum * v[u * hd + c];
                    Assert.True(Math.Abs(expected - output[c]) < 1e-5, $"hd {hd}, n {n}, c {c}: {output[c]} vs {expected}");
                }
            }
        }
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(96)]
    public void Every_score_and_output_column_is_one_fixed_chain_of_multiply_adds_whatever_the_pass_width(int hd)
    {
        // The vector passes (8, 4 or 1 chains of 16 positions; 64- or 32-column sums) change only how many chains run side by
        // side, never a chain's order: a score is fma over c = 0..hd-1, an output column the sum over even positions plus the
        // sum over odd ones (the query-block prefill kernel relies on these bits). Lengths 1-300 reach every pass and the
        // passes that read past n into the rest of the key rows.
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) return;   // the scalar loops are the reference itself
        var rng = new Random(hd);
        const int capacity = 320;
        var kt = Enumerable.Range(0, hd * capacity).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var v = Enumerable.Range(0, capacity * hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var q = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() * 0.5 - 0.25)).ToArray();
        for (int n = 1; n <= 300; n++)
        {
            var scores = new float[n];
            AttentionKernels.Scores(q, kt, capacity, scores);
            for (int u = 0; u < n; u++)
            {
                float s = 0;
                for (int c = 0; c < hd; c++) s = MathF.FusedMultiplyAdd(q[c], kt[c * capacity + u], s);
                Assert.True(s == scores[u], $"hd {hd}, n {n}: score {u} is {scores[u]}, the chain gives {s}");
            }
            var p = Enumerable.Range(0, n).Select(u => (float)rng.NextDouble() / n).ToArray();
            var output = new float[hd];
            AttentionKernels.WeightedSum(p, v, output);
            for (int c = 0; c < hd; c++)
            {
                float even = 0, odd = 0;
                for (int u = 0; u < n; u += 2) even = MathF.FusedMultiplyAdd(p[u], v[u * hd + c], even);
                for (int u = 1; u < n; u += 2) odd = MathF.FusedMultiplyAdd(p[u], v[u * hd + c], odd);
                Assert.True(even + odd == output[c], $"hd {hd}, n {n}: column {c} is {output[c]}, the chains give {even + odd}");
            }
        }
    }

    [Fact]
    public void Too_short_caches_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => AttentionKernels.Scores(new float[4], new float[4 * 10 - 1], 10, new float[10]));
        Assert.Throws<ArgumentException>(() => AttentionKernels.Scores(new float[4], new float[400], 9, new float[10]));
        Assert.Throws<ArgumentException>(() => AttentionKernels.WeightedSum(new float[10], new float[39], new float[4]));
    }
}
