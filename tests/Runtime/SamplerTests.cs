using EdgeShortcut.Runtime;

namespace EdgeShortcut.Tests.Runtime;

public class SamplerTests
{
    private static float[] LogProbs(params double[] p) => [.. p.Select(x => (float)Math.Log(x))];

    private static int[] Histogram(Sampler s, float[] logits, int draws, ReadOnlySpan<int> recent = default)
    {
        var counts = new int[logits.Length];
        for (int i = 0; i < draws; i++) counts[s.Sample(logits, recent)]++;
        return counts;
    }

    [Fact]
    public void Greedy_picks_the_largest_logit_and_the_lowest_id_on_ties()
    {
        var s = new Sampler(5, GenerationOptions.Greedy);
        Assert.Equal(3, s.Sample([0.1f, -2f, 0.5f, 3f, 2.9f], default));
        Assert.Equal(1, s.Sample([0f, 7f, 7f, 7f, -1f], default));
    }

    [Fact]
    public void Top_k_of_one_is_greedy_even_at_high_temperature()
    {
        var s = new Sampler(4, new GenerationOptions { Temperature = 5, TopK = 1, Seed = 3 });
        var h = Histogram(s, [1f, 1.2f, 0.9f, 1.1f], 500);
        Assert.Equal(500, h[1]);
    }

    [Fact]
    public void Top_k_keeps_exactly_the_k_most_likely_tokens()
    {
        var s = new Sampler(5, new GenerationOptions { Temperature = 1, TopK = 2, Seed = 1 });
        var h = Histogram(s, LogProbs(0.1, 0.3, 0.25, 0.2, 0.15), 4000);
        Assert.Equal(0, h[0] + h[3] + h[4]);
        // Renormalized over {1, 2}: 0.3 / 0.55 = 0.545.
        Assert.InRange(h[1] / 4000.0, 0.50, 0.59);
    }

    [Fact]
    public void Top_k_and_top_p_keep_the_lower_ids_among_tied_logits()
    {
        // Three tokens tie for the largest logit: top-k 2 keeps ids 1 and 2, and top-p 0.5 (two of the three
        // equal shares reach it) keeps them too, whatever the sort does with ties.
        var k = new Sampler(5, new GenerationOptions { Temperature = 1, TopK = 2, Seed = 2 });
        var p = new Sampler(5, new GenerationOptions { Temperature = 1, TopK = 0, TopP = 0.5f, Seed = 2 });
        float[] logits = [0f, 2f, 2f, 2f, 1f];
        foreach (var s in new[] { k, p })
        {
            var h = Histogram(s, logits, 2000);
            Assert.Equal(0, h[0] + h[3] + h[4]);
            Assert.InRange(h[1] / 2000.0, 0.45, 0.55);
        }
    }

    [Theory]
    [InlineData(0.5f, new[] { 0 })]          // 0.5 reaches 0.5 exactly: the first token alone
    [InlineData(0.50001f, new[] { 0, 1 })]   // just above: the second is needed
    [InlineData(0.8f, new[] { 0, 1 })]       // 0.5 + 0.3 reaches 0.8 exactly
    [InlineData(0.81f, new[] { 0, 1, 2 })]
    [InlineData(0.01f, new[] { 0 })]         // the most likely token is always kept
    public void Top_p_keeps_the_smallest_prefix_reaching_p(float topP, int[] expected)
    {
        var s = new Sampler(3, new GenerationOptions { Temperature = 1, TopP = topP, Seed = 7 });
        var h = Histogram(s, LogProbs(0.5, 0.3, 0.2), 3000);
        int[] seen = [.. Enumerable.Range(0, 3).Where(i => h[i] > 0)];
        Assert.Equal(expected, seen);
    }

    [Fact]
    public void Temperature_sampling_follows_the_softmax()
    {
        // At T = 2 the probabilities of logits ln(p) are proportional to sqrt(p).
        var s = new Sampler(3, new GenerationOptions { Temperature = 2, Seed = 11 });
        var h = Histogram(s, LogProbs(0.64, 0.32, 0.04), 20000);
        double z = 0.8 + Math.Sqrt(0.32) + 0.2;
        Assert.InRange(h[0] / 20000.0, 0.8 / z - 0.015, 0.8 / z + 0.015);
        Assert.InRange(h[2] / 20000.0, 0.2 / z - 0.01, 0.2 / z + 0.01);
    }

    [Fact]
    public void The_same_seed_gives_the_same_tokens_and_another_seed_does_not()
    {
        float[] logits = [.. Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i))];
        int[] Run(int seed)
        {
            var s = new Sampler(64, new GenerationOptions { Temperature = 1.5f, TopP = 0.95f, Seed = seed });
            return [.. Enumerable.Range(0, 200).Select(_ => s.Sample(logits, default))];
        }
        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_once_per_token()
    {
        var s = new Sampler(3, GenerationOptions.Greedy with { RepetitionPenalty = 1.5f });
        // Token 0 (2.0) was seen three times: penalized once to 1.333 < 1.5 (token 1).
        Assert.Equal(1, s.Sample([2f, 1.5f, -1f], [0, 0, 0]));
        // Negative logits get more negative: -1 * 1.5 = -1.5 < -1.2.
        Assert.Equal(2, s.Sample([-1f, -1.4f, -1.2f], [0]));
        Assert.Equal(0, s.Sample([-1f, -1.4f, -1.2f], []));
    }

    [Fact]
    public void Repetition_penalty_only_looks_at_the_window()
    {
        var s = new Sampler(3, GenerationOptions.Greedy with { RepetitionPenalty = 2f, RepetitionWindow = 2 });
        Assert.Equal(0, s.Sample([2f, 1.5f, 0f], [0, 2, 2]));   // token 0 is outside the last two
        Assert.Equal(1, s.Sample([2f, 1.5f, 0f], [2, 0, 2]));
    }

    [Fact]
    public void Non_finite_logits_are_an_error_not_a_token()
    {
        var s = new Sampler(3, new GenerationOptions { Seed = 1 });
        Assert.Throws<NonFiniteValueException>(() => s.Sample([0f, float.NaN, 1f], default));
        Assert.Throws<ArgumentException>(() => s.Sample([0f, 1f], default));
    }

    [Fact]
    public void Sampling_allocates_nothing_in_steady_state()
    {
        float[] logits = [.. Enumerable.Range(0, 256).Select(i => (float)Math.Cos(i * 0.37))];
        int[] recent = [.. Enumerable.Range(0, 64)];
        var s = new Sampler(256, new GenerationOptions { Temperature = 0.9f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.2f, Seed = 5 });
        for (int i = 0; i < 100; i++) s.Sample(logits, recent);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) s.Sample(logits, recent);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
