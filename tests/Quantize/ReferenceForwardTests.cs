using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>The naive reference forward is itself checked: exact erf, causality, and that the
/// shortcut block really changes the output (so parity tests against it can fail).</summary>
public class ReferenceForwardTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(-1.0, -0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(4.5, 0.9999999998033839)]
    public void Erf_matches_tabulated_values(double x, double expected) =>
        Assert.Equal(expected, ReferenceForward.Erf(x), 1e-13);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Changing_a_later_token_leaves_earlier_logits_unchanged(bool shortcut)
    {
        var c = TinyCheckpoint.Config(shortcut);
        var w = TinyCheckpoint.RandomWeights(c, seed: 3);
        int[] a = [10, 20, 30, 40, 50], b = [10, 20, 30, 41, 50];
        var la = ReferenceForward.Logits(c, w, a);
        var lb = ReferenceForward.Logits(c, w, b);
        for (int t = 0; t < 3; t++) Assert.Equal(la[t], lb[t]);
        Assert.NotEqual(la[3], lb[3]);
    }

    [Fact]
    public void Shortcut_memory_reaches_the_logits()
    {
        var c = TinyCheckpoint.Config(shortcut: true);
        var w = TinyCheckpoint.RandomWeights(c, seed: 4);
        int[] ids = [1, 2, 3, 4];
        var before = ReferenceForward.Logits(c, w, ids);
        w["features.0.proj.bias"].Data[0] += 1f;     // only the memory (hence the keys/values) changes
        var after = ReferenceForward.Logits(c, w, ids);
        Assert.True(Math.Abs(before[2][7] - after[2][7]) > 1e-4);
    }
}
