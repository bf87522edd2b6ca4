using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>The model forward of per-token exits (--token-exit-rate; docs/FORMAT.md section 4, "Exits" and
/// "Per-token depths at run time"), against the naive reference with per-position depths.</summary>
[Collection("Torch")]
public class TokenExitForwardTests
{
    public static TheoryData<string> Configs => ["all-taps", "subset"];

    private static ModelConfig ByName(string name) => name switch
    {
        "all-taps" => TinyModels.Shortcut with { Layers = 4, Taps = [1, 2, 3] },
        _ => TinyModels.Shortcut with { Layers = 4, Taps = [2, 3], TiedEmbeddings = false },
    };

    private static int[] Exits(ModelConfig c) => [.. Enumerable.Range(c.Taps[0], c.Layers - c.Taps[0])];

    /// <summary>Two sequences with different per-token depths in taps[0]..L-1 (every depth appears, and tokens
    /// that exit early precede deeper ones so hidden keys and entries matter).</summary>
    private static int[][] Depths(ModelConfig c) => c.Taps[0] == 1
        ? [[3, 1, 2, 3, 1, 1, 3, 2], [1, 3, 3, 2, 2, 1, 3, 3]]
        : [[3, 2, 2, 3, 2, 3, 3, 2], [2, 2, 3, 2, 3, 3, 2, 3]];

    [Theory]
    [MemberData(nameof(Configs))]
    public void Per_token_depth_logits_match_the_reference_at_every_exit(string name)
    {
        var c = ByName(name);
        using var model = TinyModels.Create(c, seed: 23);
        var weights = ModelWeights.Export(model).ToDictionary(t => t.Name);
        int[][] ids = [[3, 0, 10, 7, 7, 1, 4, 9], [5, 5, 2, 8, 0, 10, 6, 1]];
        var depths = Depths(c);
        var exits = Exits(c);
        using var idT = tensor(ids.SelectMany(r => r).Select(i => (long)i).ToArray(), [2, 8]);
        using var dT = tensor(depths.SelectMany(r => r).Select(i => (long)i).ToArray(), [2, 8]);
        var logits = model.forward(idT, exits, dT);
        Assert.Equal(exits.Length, logits.Length);
        double worst = 0;
        for (int n = 0; n < exits.Length; n++)
        {
            Assert.Equal(new long[] { 2, 8, c.VocabSize }, logits[n].shape);
            for (int b = 0; b < 2; b++)
            {
                // Exit e under depths d is the per-token forward at depths min(e, d_t); at L-1 that is d itself.
                var atExit = depths[b].Select(d => Math.Min(d, exits[n])).ToArray();
                var want = Support.ReferenceForward.Logits(c, weights, ids[b], positionDepths: atExit).SelectMany(r => r).ToArray();
                var got = logits[n][b].data<float>().ToArray();
                for (int i = 0; i < want.Length; i++)
                {
                    worst = Math.Max(worst, Math.Abs(got[i] - want[i]));
                    Assert.True(Math.Abs(got[i] - want[i]) < 1e-5, $"exit {exits[n]} seq {b} logit {i}: {got[i]} vs {want[i]}");
                }
            }
            logits[n].Dispose();
        }
        // Non-trivial: the per-token forward differs from the full-depth one.
        var full = Support.ReferenceForward.Logits(c, weights, ids[0]).SelectMany(r => r).ToArray();
        var mine = Support.ReferenceForward.Logits(c, weights, ids[0], positionDepths: depths[0]).SelectMany(r => r).ToArray();
        Assert.True(full.Zip(mine).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the chosen depths do not change the logits");
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void With_every_token_at_full_depth_it_is_the_recipe_forward(string name)
    {
        var c = ByName(name);
        using var model = TinyModels.Create(c, seed: 6);
        using var ids = TinyModels.Ids(3, c.ContextLength, c.VocabSize, seed: 9);
        using var depths = full_like(ids, c.Layers - 1);
        var plain = model.forward(ids, Exits(c));
        var perToken = model.forward(ids, Exits(c), depths);
        for (int n = 0; n < plain.Length; n++)
            Assert.True(perToken[n].allclose(plain[n], rtol: 0, atol: 1e-5), $"exit {Exits(c)[n]} differs");
        foreach (var t in plain.Concat(perToken)) t.Dispose();
    }

    [Fact]
    public void Masks_follow_the_per_token_rules()
    {
        int[] taps = [1, 2, 3];
        long[,] d = { { 3, 1, 2, 1 }, { 1, 1, 3, 2 } };
        using var depths = tensor(new long[] { 3, 1, 2, 1, 1, 1, 3, 2 }, [2, 4]);
        for (int block = 1; block <= 3; block++)
        {
            using var m = ShortcutGpt.TokenExitKeyMask(depths, block);
            Assert.Equal(new long[] { 2, 1, 4, 4 }, m.shape);
            for (int b = 0; b < 2; b++)
                for (int t = 0; t < 4; t++)
                    for (int u = 0; u < 4; u++)
                        Assert.Equal(u <= t && (block <= d[b, u] || u == t), m[b, 0, t, u].item<bool>());
        }
        for (int exit = 1; exit <= 3; exit++)
        {
            using var m = ShortcutAttention.TokenExitMask(depths, taps, exit);
            Assert.Equal(new long[] { 2, 4, 12 }, m.shape);
            for (int b = 0; b < 2; b++)
                for (int t = 0; t < 4; t++)
                    for (int e = 0; e < 12; e++)
                    {
                        int tau = e / 3, k = taps[e % 3];
                        Assert.Equal(tau <= t && k <= Math.Min(exit, d[b, t]) && k <= d[b, tau], m[b, t, e].item<bool>());
                    }
        }
    }

    [Fact]
    public void Bad_token_depths_are_refused()
    {
        var c = ByName("subset");
        using var model = TinyModels.Create(c);
        using var ids = TinyModels.Ids(1, 4, c.VocabSize, seed: 1);
        using var shallow = full_like(ids, 1);                 // first tap is 2
        using var deep = full_like(ids, c.Layers);
        using var wrongShape = full_like(ids, 3).view(4, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.forward(ids, [3], shallow));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.forward(ids, [3], deep));
        Assert.Throws<ArgumentException>(() => model.forward(ids, [3], wrongShape));
    }

    [Fact]
    public void Sampled_depths_are_exit_depths_at_the_rate_and_full_depth_otherwise()
    {
        var c = ByName("all-taps") with { ExitDepths = [1, 2] };
        torch.manual_seed(3);
        using var d = TrainerRun.TokenExitDepths(c, 64, 64, 0.5);
        Assert.Equal(new long[] { 64, 64 }, d.shape);
        var values = d.data<long>().ToArray();
        Assert.All(values, v => Assert.Contains(v, new long[] { 1, 2, 3 }));
        double early = values.Count(v => v < 3) / (double)values.Length;
        Assert.InRange(early, 0.45, 0.55);
        Assert.InRange(values.Count(v => v == 1) / (double)values.Count(v => v < 3), 0.45, 0.55);
        torch.manual_seed(3);
        using var again = TrainerRun.TokenExitDepths(c, 64, 64, 0.5);
        Assert.True(again.equal(d).all().item<bool>(), "the draw is not repeatable from the seed");
    }
}
