using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>Depth policies are validated like every other option, with messages that say why.</summary>
public class DepthPolicyTests
{
    private static readonly ModelConfig WithExits = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1] }).Validate();
    private static readonly ModelConfig Old = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3] }).Validate();

    [Theory]
    [InlineData("full", "full")]
    [InlineData("FIXED:2", "fixed:2")]
    [InlineData("adaptive", "adaptive")]
    [InlineData("adaptive:0.75", "adaptive:0.75")]
    [InlineData("speculative", "speculative:0:4")]
    [InlineData("speculative:1:6", "speculative:1:6")]
    public void Policies_parse_and_print_in_one_spelling(string text, string canonical)
    {
        var policy = DepthPolicy.Parse(text);
        Assert.Equal(canonical, policy.ToString());
        Assert.Equal(policy, DepthPolicy.Parse(policy.ToString()));
    }

    [Theory]
    [InlineData("deep")]
    [InlineData("fixed")]
    [InlineData("fixed:two")]
    [InlineData("adaptive:0.5:1")]
    [InlineData("speculative:1:2:3")]
    [InlineData("")]
    public void Malformed_policies_are_format_errors_naming_the_text(string text) =>
        Assert.Contains($"'{text}'", Assert.Throws<FormatException>(() => DepthPolicy.Parse(text)).Message);

    [Theory]
    [InlineData("fixed:0", "outside 1..3")]
    [InlineData("fixed:4", "outside 1..3")]
    [InlineData("fixed:2", "not an exit of this model (trained exits: 1; full depth 3)")]
    [InlineData("adaptive:NaN", "must be in (0, 1]")]
    [InlineData("adaptive:0", "must be in (0, 1]")]
    [InlineData("adaptive:1.5", "must be in (0, 1]")]
    [InlineData("speculative:3:4", "must be an exit below the full depth 3")]
    [InlineData("speculative:2:4", "not an exit of this model")]
    [InlineData("speculative:1:0", "max draft 0 is outside 1..32")]
    [InlineData("speculative:1:33", "max draft 33 is outside 1..32")]
    public void Invalid_depths_and_thresholds_say_why(string policy, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => DepthPolicy.Parse(policy).Validate(WithExits));
        Assert.Equal("Depth", e.ParamName);
        Assert.Contains(why, e.Message);
    }

    [Theory]
    [InlineData("adaptive")]
    [InlineData("speculative")]
    [InlineData("fixed:1")]
    public void A_model_trained_without_the_recipe_refuses_shallow_policies_and_says_why(string policy)
    {
        var e = Assert.Throws<ArgumentException>(() => DepthPolicy.Parse(policy).Validate(Old));
        Assert.Contains(policy.StartsWith("fixed") ? "trained exits: none" : "exit_depths is empty", e.Message);
        DepthPolicy.Full.Validate(Old);
        DepthPolicy.Fixed(3).Validate(Old);   // the full depth is always an exit
    }

    [Fact]
    public void A_plain_gpt_has_no_exit_head()
    {
        var plain = TinyCheckpoint.Config(shortcut: false);
        Assert.Contains("plain GPT", Assert.Throws<ArgumentException>(() => DepthPolicy.Adaptive().Validate(plain)).Message);
    }

    [Fact]
    public void Self_speculation_needs_greedy_decoding()
    {
        var options = new GenerationOptions { Temperature = 0.8f, Depth = DepthPolicy.SelfSpeculative(1, 4) };
        var e = Assert.Throws<ArgumentException>(() => options.Validate(WithExits));
        Assert.Equal("Depth", e.ParamName);
        Assert.Contains("Temperature = 0", e.Message);
        GenerationOptions.Greedy.With(DepthPolicy.SelfSpeculative(1, 4)).Validate(WithExits);
    }

    [Fact]
    public void Onnx_runtime_backends_run_full_depth_and_name_the_policy_they_cannot_run()
    {
        using var files = new TinyOnnxModel();
        var (path, _, _) = files.Write();
        using var model = EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Cpu });
        using (var full = model.CreateGenerator(GenerationOptions.Greedy)) { full.AppendTokens([1, 2]); full.NextToken(); }
        var e = Assert.Throws<NotSupportedException>(() => model.CreateGenerator(GenerationOptions.Greedy.With(DepthPolicy.Fixed(model.Config.Layers - 1))));
        Assert.Contains($"'fixed:{model.Config.Layers - 1}'", e.Message);
        Assert.Throws<NotSupportedException>(() => model.CreateScorer(DepthPolicy.Full));
    }
}

internal static class GenerationOptionsTestExtensions
{
    public static GenerationOptions With(this GenerationOptions o, DepthPolicy depth) => o with { Depth = depth };
}
