using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Teacher-forced scoring with a depth policy (issue 10, console <c>eval</c>).</summary>
public class TokenScorerTests
{
    private static readonly ModelConfig Config = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1, 2] }).Validate();

    private static EdgeModel Model(Dictionary<string, NamedTensor> w) =>
        new(new ModelFileInfo("test.onnx", Config, new TokenizerSpec(TokenizerSpec.ByteKind, 256), "fp32"),
            ManagedTestModels.Engine(Config, w, int8: false, ActivationPrecision.Float32), "test");

    private static int[] Stream(int length, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => rng.Next(256))];
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    [InlineData(2)]
    public void Scores_equal_the_reference_nll_over_format_windows(int? depth)
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 21);
        using var model = Model(w);
        int n = Config.ContextLength;
        int[] tokens = Stream(2 * n + 5, seed: 3);                 // two whole windows, a tail that is dropped
        using var scorer = model.CreateScorer(depth is { } e ? DepthPolicy.Fixed(e) : DepthPolicy.Full);
        var result = scorer.Score(tokens);

        double expected = 0;
        for (int start = 0; start + n + 1 <= tokens.Length; start += n)
        {
            var logits = ReferenceForward.Logits(Config, w, tokens[start..(start + n)], exitDepth: depth);
            for (int t = 0; t < n; t++)
            {
                double max = logits[t].Max(), sum = logits[t].Sum(l => Math.Exp(l - max));
                expected += Math.Log(sum) + max - logits[t][tokens[start + t + 1]];
            }
        }
        Assert.Equal(2 * n, result.Positions);
        Assert.Equal(expected / (2 * n), result.Nll, 4);
        Assert.Equal(2 * n, result.ExitHistogram[depth ?? 3]);
        Assert.Equal(depth ?? 3, result.MeanExitDepth, 9);
    }

    [Fact]
    public void Adaptive_scores_count_every_position_at_its_exit_and_max_positions_stops_early()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 22);
        using var model = Model(w);
        using var scorer = model.CreateScorer(DepthPolicy.Adaptive(0.02f));
        var result = scorer.Score(Stream(100, seed: 4), maxPositions: 20);
        Assert.Equal(20, result.Positions);
        Assert.Equal(20, result.ExitHistogram.Sum());
        Assert.Equal(0, result.ExitHistogram[0]);
        Assert.True(double.IsFinite(result.Nll) && result.Nll > 0);
    }

    [Fact]
    public void Bad_requests_say_why()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 23);
        using var model = Model(w);
        Assert.Throws<NotSupportedException>(() => model.CreateScorer(DepthPolicy.SelfSpeculative()));
        using var scorer = model.CreateScorer();
        Assert.Throws<ArgumentException>(() => scorer.Score(Stream(Config.ContextLength, seed: 5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => scorer.Score([.. Stream(40, seed: 6)[..39], 256]));
        Assert.Throws<ArgumentOutOfRangeException>(() => scorer.Score(Stream(40, seed: 6), maxPositions: 0));
    }
}
