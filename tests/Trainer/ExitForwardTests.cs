using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>The exit forward of the exit recipe (docs/FORMAT.md section 4, "Exits"): at depth e the
/// shortcut block is queried from x_e over the memory of taps &lt;= e.</summary>
[Collection("Torch")]
public class ExitForwardTests
{
    /// <summary>L = 4 with every tap, and a subset whose first tap is 2 (so exit 1 does not exist).</summary>
    public static TheoryData<string> Configs => ["all-taps", "subset"];

    private static ModelConfig ByName(string name) => name switch
    {
        "all-taps" => TinyModels.Shortcut with { Layers = 4, Taps = [1, 2, 3] },
        _ => TinyModels.Shortcut with { Layers = 4, Taps = [2, 3], TiedEmbeddings = false },
    };

    private static int[] Exits(ModelConfig c) => [.. Enumerable.Range(c.Taps[0], c.Layers - c.Taps[0])];

    [Theory]
    [MemberData(nameof(Configs))]
    public void Exit_logits_match_the_reference_at_every_exit_depth(string name)
    {
        var c = ByName(name);
        using var model = TinyModels.Create(c, seed: 21);
        var weights = ModelWeights.Export(model).ToDictionary(t => t.Name);
        int[] ids = [3, 0, 10, 7, 7, 1, 4, 9];
        var exits = Exits(c);
        var logits = model.forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]), exits);
        Assert.Equal(exits.Length, logits.Length);
        for (int n = 0; n < exits.Length; n++)
        {
            Assert.Equal(new long[] { 1, ids.Length, c.VocabSize }, logits[n].shape);
            var got = logits[n].data<float>().ToArray();
            var want = Support.ReferenceForward.Logits(c, weights, ids, exits[n]).SelectMany(r => r).ToArray();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) < 1e-4, $"exit {exits[n]} logit {i}: {got[i]} vs {want[i]}");
            logits[n].Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void The_full_depth_exit_is_the_ordinary_forward(string name)
    {
        var c = ByName(name);
        using var model = TinyModels.Create(c, seed: 5);
        using var ids = TinyModels.Ids(3, c.ContextLength, c.VocabSize, seed: 8);
        using var plain = model.forward(ids);
        var alone = model.forward(ids, [c.Layers - 1]);
        Assert.True(alone[0].equal(plain).all().item<bool>(), "exit L-1 alone differs from forward");
        var all = model.forward(ids, Exits(c));
        Assert.True(all[^1].allclose(plain, rtol: 0, atol: 1e-5), "exit L-1 among others differs from forward");
        foreach (var t in alone.Concat(all)) t.Dispose();
    }

    [Fact]
    public void Perturbing_deeper_taps_and_blocks_leaves_an_exit_unchanged()
    {
        var c = ByName("all-taps");
        using var model = TinyModels.Create(c, seed: 3);
        using var ids = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 4);
        const int exit = 1;
        var before = model.forward(ids, [exit, c.Layers - 1]);
        using (no_grad())
            foreach (var (n, p) in model.named_parameters())
                if (n.StartsWith("features.1.") || n.StartsWith("features.2.") || n.StartsWith("blocks.1.") || n.StartsWith("blocks.2."))
                    p.add_(randn_like(p));                    // taps 2, 3 and the blocks that make x_2, x_3
        var after = model.forward(ids, [exit, c.Layers - 1]);
        Assert.True(after[0].equal(before[0]).all().item<bool>(), "exit 1 depends on taps or blocks deeper than 1");
        Assert.False(after[1].allclose(before[1], rtol: 0, atol: 1e-4), "the full depth should have changed");
        foreach (var t in before.Concat(after)) t.Dispose();
    }

    [Fact]
    public void Exit_mask_hides_later_positions_and_deeper_taps()
    {
        const int T = 4;
        int[] taps = [1, 3, 4];
        for (int exit = 1; exit <= 5; exit++)
        {
            using var mask = ShortcutAttention.ExitMask(T, taps, exit);
            Assert.Equal(new long[] { T, T * taps.Length }, mask.shape);
            for (int t = 0; t < T; t++)
                for (int e = 0; e < T * taps.Length; e++)
                    Assert.Equal(e / taps.Length <= t && taps[e % taps.Length] <= exit, mask[t, e].item<bool>());
        }
        using var full = ShortcutAttention.ExitMask(T, taps, 4);
        using var block = ShortcutAttention.BlockCausalMask(T, taps.Length);
        Assert.True(full.equal(block).all().item<bool>());
    }

    [Fact]
    public void Exits_without_a_tap_below_them_or_on_the_baseline_are_refused()
    {
        var c = ByName("subset");
        using var model = TinyModels.Create(c);
        using var ids = TinyModels.Ids(1, 4, c.VocabSize, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.forward(ids, [1]));      // first tap is 2
        Assert.Throws<ArgumentOutOfRangeException>(() => model.forward(ids, [c.Layers]));
        Assert.Throws<ArgumentException>(() => model.forward(ids, Array.Empty<int>()));
        using var baseline = TinyModels.Create(TinyModels.Baseline);
        Assert.Throws<InvalidOperationException>(() => baseline.forward(ids, [1]));
    }

    [Fact]
    public void Every_parameter_a_shallow_exit_uses_receives_a_gradient()
    {
        var c = ByName("all-taps");
        using var model = TinyModels.Create(c);
        model.train();
        using var ids = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 5);
        var logits = model.forward(ids, [1]);
        using var loss = logits[0].square().mean();
        loss.backward();
        foreach (var (n, p) in model.named_parameters())
        {
            bool used = !(n.StartsWith("blocks.1.") || n.StartsWith("blocks.2.") || n.StartsWith("features.1.") || n.StartsWith("features.2."));
            bool hasGrad = p.grad is not null && p.grad.abs().max().item<float>() > 0;
            Assert.True(used == hasGrad, $"{n}: used by exit 1 = {used}, has gradient = {hasGrad}");
        }
        logits[0].Dispose();
    }
}
