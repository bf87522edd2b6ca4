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

    [Fact]
    public void Too_short_caches_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => AttentionKernels.Scores(new float[4], new float[4 * 10 - 1], 10, new float[10]));
        Assert.Throws<ArgumentException>(() => AttentionKernels.Scores(new float[4], new float[400], 9, new float[10]));
        Assert.Throws<ArgumentException>(() => AttentionKernels.WeightedSum(new float[10], new float[39], new float[4]));
    }
}
