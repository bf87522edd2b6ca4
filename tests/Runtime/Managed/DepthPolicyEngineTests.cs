using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Depth policies on the managed engine (issue 10): exits equal the reference exit forward,
/// self-speculation equals full-depth greedy decoding, adaptive exits hide what skipped tokens never computed.</summary>
public class DepthPolicyEngineTests
{
    // L 4 (3 ordinary blocks), taps {1, 3}, exits {1, 2} + full depth 3; n_ctx 16 so long runs slide the window.
    private static readonly ModelConfig Config = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1, 2] }).Validate();
    private static readonly int[] Prompt = [5, 200, 17, 99, 3];

    private static EdgeModel Model(ModelConfig c, Dictionary<string, NamedTensor> w, bool int8 = false) =>
        new(new ModelFileInfo("test.onnx", c, new TokenizerSpec(TokenizerSpec.ByteKind, 256), int8 ? "int8" : "fp32"),
            ManagedTestModels.Engine(c, w, int8, ActivationPrecision.Float32), "test");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Fixed_depth_logits_equal_the_reference_exit_forward(int depth)
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 4);
        using var engine = ManagedTestModels.Engine(Config, w, int8: false);
        using var s = engine.CreateManagedSequence();
        var reference = ReferenceForward.Logits(Config, w, Prompt, exitDepth: depth);
        for (int t = 0; t < Prompt.Length; t++)
        {
            var logits = s.AppendAtDepth([Prompt[t]], depth).ToArray();
            Assert.True(ManagedTestModels.Nmse([logits], [reference[t]]) < 1e-10, $"position {t}, depth {depth}");
        }
    }

    [Fact]
    public void A_shallow_exit_ignores_deeper_taps_and_blocks()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 5);
        var changed = new Dictionary<string, NamedTensor>(w);
        foreach (string name in new[] { "features.1.proj.weight", "blocks.2.mlp.fc.weight" })
            changed[name] = w[name] with { Data = [.. w[name].Data.Select(v => v * 3 + 0.1f)] };
        using var a = ManagedTestModels.Engine(Config, w, int8: false).CreateManagedSequence();
        using var b = ManagedTestModels.Engine(Config, changed, int8: false).CreateManagedSequence();
        Assert.Equal(a.AppendAtDepth(Prompt, 2).ToArray(), b.AppendAtDepth(Prompt, 2).ToArray());
        a.Reset(); b.Reset();
        Assert.NotEqual(a.Append(Prompt).ToArray(), b.Append(Prompt).ToArray());
    }

    [Theory]
    [InlineData(false, 1, 1)]
    [InlineData(false, 1, 4)]
    [InlineData(false, 2, 3)]
    [InlineData(true, 1, 5)]
    [InlineData(true, 2, 32)]
    public void Self_speculative_greedy_text_is_identical_to_full_depth_across_rewinds_and_slides(bool int8, int draftDepth, int maxDraft)
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 6);
        using var model = Model(Config, w, int8);
        var full = Generate(model, GenerationOptions.Greedy with { MaxNewTokens = 60 }, out _);
        var speculative = Generate(model, GenerationOptions.Greedy with { MaxNewTokens = 60, Depth = DepthPolicy.SelfSpeculative(draftDepth, maxDraft) }, out var slides);
        Assert.Equal(full, speculative);
        Assert.True(slides > 0, "60 tokens in a 16-token context must slide the window");
    }

    [Fact]
    public void Self_speculative_stops_at_max_new_tokens_and_continues_after_new_input()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 7);
        using var model = Model(Config, w);
        var options = GenerationOptions.Greedy with { MaxNewTokens = 3, ContextOverflow = ContextOverflowPolicy.SlidingWindow };
        using var full = model.CreateGenerator(options);
        using var spec = model.CreateGenerator(options with { Depth = DepthPolicy.SelfSpeculative(1, 8) });
        foreach (var g in new[] { full, spec })
        {
            g.AppendTokens(Prompt);
            while (!g.IsDone) g.NextToken();
            g.AppendTokens([42, 43]);
            while (!g.IsDone) g.NextToken();
        }
        Assert.Equal(full.Tokens.ToArray(), spec.Tokens.ToArray());
        Assert.Equal(Prompt.Length + 3 + 2 + 3, spec.Tokens.Length);
    }

    [Fact]
    public void Adaptive_with_a_zero_threshold_exits_every_token_at_the_first_exit_like_fixed()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 8);
        using var model = Model(Config, w);
        var adaptive = Generate(model, GenerationOptions.Greedy with { MaxNewTokens = 10, Depth = DepthPolicy.Adaptive(1e-9f) }, out _, depths: true);
        var fixedFirst = Generate(model, GenerationOptions.Greedy with { MaxNewTokens = 10, Depth = DepthPolicy.Fixed(1) }, out _);
        Assert.Equal(fixedFirst, adaptive.Tokens);
        Assert.All(adaptive.Depths, d => Assert.Equal(1, d));
    }

    [Fact]
    public void Adaptive_with_threshold_one_runs_full_depth_and_reports_it()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 9);
        using var model = Model(Config, w);
        var adaptive = Generate(model, GenerationOptions.Greedy with { MaxNewTokens = 10, Depth = DepthPolicy.Adaptive(1f) }, out _, depths: true);
        var full = Generate(model, GenerationOptions.Greedy with { MaxNewTokens = 10 }, out _);
        Assert.Equal(full, adaptive.Tokens);
        Assert.All(adaptive.Depths, d => Assert.Equal(3, d));
    }

    [Fact]
    public void Adaptive_masks_the_keys_and_entries_a_shallow_token_never_computed()
    {
        // Token 0 exits at depth 1, token 1 runs full depth: token 1 must see only token 0's block-1 key and tap-1 entry.
        var w = TinyCheckpoint.RandomWeights(Config, seed: 10);
        using var engine = ManagedTestModels.Engine(Config, w, int8: false);
        using var s = engine.CreateManagedSequence();
        s.UseMasks = true;
        s.AppendAdaptive(Prompt[0], 0f, out int d0, default);
        var logits = s.AppendAdaptive(Prompt[1], 2f, out int d1, default).ToArray();
        Assert.Equal((1, 3), (d0, d1));
        var reference = ReferenceForward.Logits(Config, w, Prompt[..2], positionDepths: [1, 3]);
        Assert.True(ManagedTestModels.Nmse([logits], [reference[1]]) < 1e-10);
    }

    [Fact]
    public void Depth_reports_give_each_taps_attention_share()
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed: 11);
        using var model = Model(Config, w);
        using var g = model.CreateGenerator(GenerationOptions.Greedy with { ReportDepth = true });
        g.AppendTokens(Prompt);
        g.NextToken();
        var depth = g.LastDepth;
        Assert.Equal(3, depth.ExitDepth);
        Assert.Equal(2, depth.TapAttention.Length);
        Assert.Equal(1f, depth.TapAttention.Span[0] + depth.TapAttention.Span[1], 4);
        Assert.All(depth.TapAttention.ToArray(), m => Assert.InRange(m, 0f, 1f));

        using var quiet = model.CreateGenerator(GenerationOptions.Greedy with { Depth = DepthPolicy.Fixed(2) });
        quiet.AppendTokens(Prompt);
        quiet.NextToken();
        Assert.Equal(2, quiet.LastDepth.ExitDepth);
        Assert.True(quiet.LastDepth.TapAttention.IsEmpty);
    }

    [Theory]
    [InlineData("fixed:2")]
    [InlineData("adaptive:0.5")]
    [InlineData("speculative:1:4")]
    public void Decoding_with_a_policy_allocates_nothing_per_token_when_depth_reports_are_off(string policy)
    {
        var config = (Config with { ContextLength = 128 }).Validate();   // room for several windows of tokens
        var w = TinyCheckpoint.RandomWeights(config, seed: 12);
        using var model = Model(config, w);
        using var g = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 100, Depth = DepthPolicy.Parse(policy), ContextOverflow = ContextOverflowPolicy.Stop });
        g.AppendTokens([1]);
        for (int i = 0; i < 3; i++) g.NextToken();   // JIT and first-call paths
        // 96 of the 97 tokens left, in windows of 16 (SteadyStateAllocations says why one window may allocate).
        SteadyStateAllocations.AssertNoneBeyondOneWindow(SteadyStateAllocations.PerWindow(_ => g.NextToken(), windows: 6, stepsPerWindow: 16));
    }

    private static int[] Generate(EdgeModel model, GenerationOptions options, out int slides) =>
        Generate(model, options, out slides, depths: false).Tokens;

    private static (int[] Tokens, List<int> Depths) Generate(EdgeModel model, GenerationOptions options, out int slides, bool depths)
    {
        using var g = model.CreateGenerator(options);
        g.AppendTokens(Prompt);
        var tokens = new List<int>();
        var list = new List<int>();
        while (!g.IsDone) { tokens.Add(g.NextToken()); list.Add(g.LastDepth.ExitDepth); }
        slides = g.ContextSlides;
        return ([.. tokens], list);
    }
}
