using System.Text;
using System.Text.Json;
using EdgeShortcut.ConsoleSample;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;
using static EdgeShortcut.Tests.Runtime.ConsoleSampleTests;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>The console's depth features (issue 10) as a user runs them, on a real tiny file trained
/// shape with exits (L = 4, taps {1, 3}, exit depths {1, 2}, n_ctx 64): <c>eval</c>, <c>--depth</c>,
/// <c>--show-depth</c>, <c>depth-map</c>, and their usage errors (exit code 2, naming the flag).</summary>
public sealed class ConsoleDepthTests : IDisposable
{
    private static readonly ModelConfig ExitConfig =
        (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1, 2], ContextLength = 64 }).Validate();

    private readonly TinyOnnxModel _files = new();
    private readonly string _model, _data;

    public ConsoleDepthTests()
    {
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = ExitConfig }, TinyCheckpoint.RandomWeights(ExitConfig, 7), ExportPrecision.Fp32, "00");
        _model = _files.PathOf("tiny-exits.onnx");
        OnnxWriter.WriteFile(_model, model);
        _data = _files.PathOf("data.txt");
        var rng = new Random(11);
        File.WriteAllText(_data, string.Concat(Enumerable.Range(0, 1500).Select(_ => "abcdefgh \n"[rng.Next(10)])));   // held out: 150 tokens, 2 windows
    }

    public void Dispose() => _files.Dispose();

    [Fact]
    public void The_held_out_split_is_the_documented_last_tenth()
    {
        string format = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "FORMAT.md"));
        Assert.Contains("validation split is the last floor(N/10) tokens", format.ReplaceLineEndings(" "));
        foreach (int n in new[] { 1, 9, 10, 11, 99, 1500, 1115394 })
        {
            int[] stream = [.. Enumerable.Range(0, n)];
            int[] heldOut = HeldOutSplit.Of(stream);
            Assert.Equal(n / 10, heldOut.Length);                       // floor(N/10) tokens
            Assert.Equal(stream[(n - n / 10)..], heldOut);              // ... at the end
        }
        Assert.Equal(1003855, HeldOutSplit.Start(1115394));              // tinyshakespeare: the README's 110,848-position split
    }

    [Fact]
    public void Eval_json_has_one_result_per_policy_and_full_nll_equals_the_scorer()
    {
        var (exit, output, err) = Run(null, "eval", "--model", _model, "--data", _data, "--depth", "full,fixed:1,adaptive:0.5,speculative", "--json");
        Assert.True(exit == 0, err);
        Assert.Contains("identical logits by construction", output);
        using var doc = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        Assert.Equal(_model, doc.RootElement.GetProperty("model").GetString());
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["full", "fixed:1", "adaptive:0.5", "speculative:0:4"], results.Select(r => r.GetProperty("depth").GetString()));
        foreach (var r in results)
        {
            Assert.True(r.GetProperty("tokens_per_s").GetDouble() > 0);
            Assert.Equal(ExitConfig.Layers, r.GetProperty("exit_histogram").GetArrayLength());
        }
        Assert.Equal(128, results[0].GetProperty("exit_histogram").EnumerateArray().Sum(e => e.GetInt64()));   // 2 windows of 64
        Assert.Equal(1.0, results[1].GetProperty("mean_exit_depth").GetDouble());
        Assert.Equal(results[0].GetProperty("nll").GetDouble(), results[3].GetProperty("nll").GetDouble());
        Assert.True(results[3].GetProperty("identical_greedy").GetBoolean());

        // The same split, by the documented rule, through the library's scorer.
        byte[] bytes = File.ReadAllBytes(_data);
        int[] heldOut = [.. bytes[(bytes.Length - bytes.Length / 10)..].Select(b => (int)b)];
        using var edge = EdgeModel.Load(_model, new EdgeModelOptions { Backend = BackendKind.Managed });
        using var scorer = edge.CreateScorer(DepthPolicy.Full);
        Assert.Equal(scorer.Score(heldOut).Nll, results[0].GetProperty("nll").GetDouble(), 9);

        var (exitSome, outputSome, _) = Run(null, "eval", "--model", _model, "--data", _data, "--positions", "70", "--json");
        Assert.Equal(0, exitSome);
        using var some = JsonDocument.Parse(outputSome.TrimEnd().Split('\n')[^1]);
        Assert.Equal(scorer.Score(heldOut, maxPositions: 70).Nll, some.RootElement.GetProperty("results")[0].GetProperty("nll").GetDouble(), 9);
    }

    [Fact]
    public void Eval_of_adaptive_without_a_threshold_reports_the_threshold_it_ran()
    {
        var (exit, output, err) = Run(null, "eval", "--model", _model, "--data", _data, "--depth", "adaptive,adaptive:0.5", "--positions", "64", "--json");
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        var depths = doc.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("depth").GetString());
        Assert.Equal([$"adaptive:{DepthPolicy.DefaultThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture)}", "adaptive:0.5"], depths);
    }

    [Fact]
    public void Eval_scores_baseline_models_at_full_depth_in_the_same_turns_and_plots_the_trade_off()
    {
        var (plain, _, _) = _files.Write(shortcut: false, contextLength: 64);
        string png = Path.Combine(Path.GetTempPath(), $"eval-{Guid.NewGuid():N}.png");
        var (exit, output, err) = Run(null, "eval", "--model", _model, "--data", _data, "--depth", "full,fixed:1", "--baseline", plain, "--json", "--plot", png);
        Assert.True(exit == 0, err);
        byte[] image = File.ReadAllBytes(png);
        File.Delete(png);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], image[..4]);
        using var doc = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(3, results.Count);
        Assert.Equal(plain, results[2].GetProperty("model").GetString());
        Assert.False(results[0].TryGetProperty("model", out _));

        byte[] bytes = File.ReadAllBytes(_data);
        int[] heldOut = [.. bytes[(bytes.Length - bytes.Length / 10)..].Select(b => (int)b)];
        using var edge = EdgeModel.Load(plain, new EdgeModelOptions { Backend = BackendKind.Managed });
        using var scorer = edge.CreateScorer(DepthPolicy.Full);
        Assert.Equal(scorer.Score(heldOut).Nll, results[2].GetProperty("nll").GetDouble(), 9);

        (exit, _, err) = Run(null, "eval", "--model", _model, "--data", _data, "--baseline", _files.Write(contextLength: 16).Path);
        AssertCleanError(exit, err, "--baseline", code: 2);
    }

    [Fact]
    public void Bad_depth_text_and_policies_the_model_cannot_run_are_usage_errors_naming_the_flag()
    {
        var (exit, _, err) = Run(null, "eval", "--model", _model, "--data", _data, "--depth", "full,fixed:x");
        AssertCleanError(exit, err, "--depth: Depth policy 'fixed:x'", code: 2);
        (exit, _, err) = Run(null, "eval", "--model", _model, "--data", _data, "--depth", "fixed:2,fixed:9");
        AssertCleanError(exit, err, "--depth: Depth policy 'fixed:9': depth 9 is outside 1..3", code: 2);
        var (plain, _, _) = _files.Write(contextLength: 64);   // trained without exits
        (exit, _, err) = Run(null, "eval", "--model", plain, "--data", _data, "--depth", "adaptive");
        AssertCleanError(exit, err, "--depth: Depth policy 'adaptive': Adaptive needs a model trained with the exit recipe", code: 2);
        (exit, _, err) = Run(null, "--model", plain, "--depth", "fixed:1", "x");
        AssertCleanError(exit, err, "--depth", code: 2);
        (exit, _, err) = Run(null, "--model", _model, "--depth", "fast", "x");
        AssertCleanError(exit, err, "--depth: Depth policy 'fast'", code: 2);
        (exit, _, err) = Run(null, "--model", _model, "--depth", "fixed:1", "--backend", "cpu", "x");
        AssertCleanError(exit, err, "--depth fixed:1 runs on the managed engine only", code: 2);
        (exit, _, err) = Run(null, "--model", _model, "--depth", "speculative", "x");
        AssertCleanError(exit, err, "--temperature 0 --repetition-penalty 1", code: 2);
    }

    [Fact]
    public void Positions_must_be_positive()
    {
        var (exit, _, err) = Run(null, "eval", "--model", _model, "--data", _data, "--positions", "0");
        AssertCleanError(exit, err, "--positions", code: 2);
    }

    [Fact]
    public void Show_depth_prints_the_legend_and_colours_tokens_by_exit_depth()
    {
        var (exit, output, err) = Run(null, "--model", _model, "--depth", "fixed:1", "--show-depth", "--color", "always", "-t", "0", "-n", "10", "ab");
        Assert.True(exit == 0, err);
        Assert.StartsWith("depth: 1 \u001b[32m■\u001b[0m 2 \u001b[36m■\u001b[0m 3 \u001b[31m■\u001b[0m (full)", err);
        Assert.StartsWith("ab\u001b[32m", output);                // every token at depth 1: green
        Assert.DoesNotContain("\u001b[31m", output);
        Assert.Contains("-- backend managed", err);                // chosen for the policy
        Assert.Contains("depth fixed:1; 10 tokens", err);
        Assert.Contains("mean exit depth 1.00", err);

        var (exitPlain, outputPlain, errPlain) = Run(null, "--model", _model, "--show-depth", "-t", "0", "-n", "10", "ab");   // stdout redirected: no colours
        Assert.Equal(0, exitPlain);
        Assert.StartsWith("depth: 1 ■ 2 ■ 3 ■ (full)", errPlain);
        Assert.DoesNotContain("\u001b[", outputPlain);
        var (_, greedy, _) = Run(null, "--model", _model, "-t", "0", "-n", "10", "ab");
        Assert.Equal(greedy, outputPlain);                         // the step loop streams the same text as GenerateAsync
        var (exitSpec, outputSpec, errSpec) = Run(null, "--model", _model, "--depth", "speculative", "--show-depth", "-t", "0", "--repetition-penalty", "1", "-n", "10", "ab");
        Assert.True(exitSpec == 0, errSpec);
        var (_, greedyNoPenalty, _) = Run(null, "--model", _model, "-t", "0", "--repetition-penalty", "1", "-n", "10", "ab");
        Assert.Equal(greedyNoPenalty, outputSpec);                 // self-speculation: the full model's greedy text
    }

    [Fact]
    public void Depth_map_writes_a_png_heatmap_and_json_with_one_entry_per_token()
    {
        string dir = _files.PathOf("map");
        string text = "To be, or not é";
        var (exit, output, err) = Run(null, "depth-map", "--model", _model, "--text", text, "--out", dir, "--depth", "adaptive:0.5");
        Assert.True(exit == 0, err);
        Assert.Contains("wrote", output);
        byte[] png = File.ReadAllBytes(Path.Combine(dir, "depth-map.png"));
        Assert.True(png.Length > 1000);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "depth-map.json")));
        Assert.Equal("adaptive:0.5", doc.RootElement.GetProperty("depth").GetString());
        var tokens = doc.RootElement.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(Encoding.UTF8.GetByteCount(text), tokens.Count);
        Assert.Equal("é", tokens[^2].GetProperty("text").GetString());   // a 2-byte character: its lead byte carries it
        Assert.Equal("", tokens[^1].GetProperty("text").GetString());
        foreach (var t in tokens)
        {
            Assert.Contains(t.GetProperty("exit_depth").GetInt32(), new[] { 1, 2, 3 });
            var mass = t.GetProperty("tap_attention").EnumerateArray().Select(m => m.GetDouble()).ToList();
            Assert.Equal(2, mass.Count);
            Assert.Equal(1.0, mass.Sum(), 4);
        }
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Depth_map_rejects_a_text_longer_than_the_context()
    {
        var (exit, _, err) = Run(null, "depth-map", "--model", _model, "--text", new string('a', 65), "--out", _files.PathOf("map2"));
        AssertCleanError(exit, err, "--text: 65 tokens, more than the model's context of 64", code: 2);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "docs", "FORMAT.md"))) return dir.FullName;
        throw new DirectoryNotFoundException("docs/FORMAT.md above the test binaries");
    }
}
