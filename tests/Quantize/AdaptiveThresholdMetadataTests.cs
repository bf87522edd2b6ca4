using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>A file's recommended adaptive threshold (metadata <c>edgeshortcut.adaptive_threshold</c>): written by
/// the exporter for exit-trained models only, validated on read, and what <c>DepthPolicy.Adaptive()</c> without a
/// threshold runs with.</summary>
[Collection("Torch")]
public sealed class AdaptiveThresholdMetadataTests : IDisposable
{
    private static readonly ModelConfig ExitConfig = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1] }).Validate();
    private readonly string _dir = Directory.CreateTempSubdirectory("es-threshold-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private string Checkpoint(ModelConfig c)
    {
        string dir = Path.Combine(_dir, $"ckpt-{c.ExitDepths.Length}");
        if (!Directory.Exists(dir)) TinyCheckpoint.Write(dir, c, seed: 3);
        return dir;
    }

    private string Export(ModelConfig c, float? threshold, string name = "m.onnx")
    {
        string path = Path.Combine(_dir, name);
        OnnxExporter.Export(Checkpoint(c), path, ExportPrecision.Int8, threshold);
        return path;
    }

    private static EdgeModel Managed(string path) => EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Managed });

    [Fact]
    public void Adaptive_without_a_threshold_runs_the_files_recommended_one()
    {
        string path = Export(ExitConfig, 0.35f);
        Assert.Equal("0.35", OnnxReader.ReadFile(path).Metadata()[OnnxMetadata.AdaptiveThresholdKey]);
        using var model = Managed(path);
        Assert.Equal(0.35f, model.File.AdaptiveThreshold);
        using var scorer = model.CreateScorer(DepthPolicy.Adaptive());
        Assert.Equal(0.35f, scorer.Depth.Threshold);
        using var generator = model.CreateGenerator(new GenerationOptions { Depth = DepthPolicy.Adaptive() });
        Assert.Equal(DepthPolicy.Adaptive(0.35f), generator.Options.Depth);
        using var explicitScorer = model.CreateScorer(DepthPolicy.Adaptive(0.6f));
        Assert.Equal(0.6f, explicitScorer.Depth.Threshold);
    }

    [Fact]
    public void Without_a_recommendation_the_runtime_default_applies_and_no_key_is_written()
    {
        string path = Export(ExitConfig, null);
        Assert.False(OnnxReader.ReadFile(path).Metadata().ContainsKey(OnnxMetadata.AdaptiveThresholdKey));
        using var model = Managed(path);
        Assert.Null(model.File.AdaptiveThreshold);
        using var scorer = model.CreateScorer(DepthPolicy.Adaptive());
        Assert.Equal(DepthPolicy.DefaultThreshold, scorer.Depth.Threshold);
    }

    [Fact]
    public void The_exporter_refuses_bad_thresholds_and_models_without_exits()
    {
        foreach (float bad in new[] { 0f, -0.1f, 1.5f, float.NaN, float.PositiveInfinity })
            Assert.Throws<ArgumentOutOfRangeException>(() => Export(ExitConfig, bad, "bad.onnx"));
        var noExits = Assert.Throws<ArgumentException>(() => Export(TinyCheckpoint.Config(), 0.2f, "bad.onnx"));
        Assert.Contains("exit_depths", noExits.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "bad.onnx")));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("1.0001")]
    [InlineData("NaN")]
    [InlineData("-Infinity")]
    public void A_hostile_threshold_in_the_metadata_is_a_format_error(string value)
    {
        var props = OnnxReader.ReadFile(Export(ExitConfig, 0.5f)).Metadata();
        props[OnnxMetadata.AdaptiveThresholdKey] = value;
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxMetadata.Read(props, "hostile.onnx"));
        Assert.Contains(OnnxMetadata.AdaptiveThresholdKey, e.Message);
    }

    [Fact]
    public void A_threshold_on_a_model_without_exits_is_a_format_error()
    {
        var props = OnnxReader.ReadFile(Export(TinyCheckpoint.Config(), null)).Metadata();
        props[OnnxMetadata.AdaptiveThresholdKey] = "0.5";
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxMetadata.Read(props, "hostile.onnx"));
        Assert.Contains("exit_depths", e.Message);
    }

    [Fact]
    public void The_quantizer_flag_records_the_threshold_and_refuses_bad_values()
    {
        string ckpt = Checkpoint(ExitConfig), good = Path.Combine(_dir, "cli.onnx"), bad = Path.Combine(_dir, "cli-bad.onnx");
        var (code, _, err) = QuantizeCliTests.Cli("--checkpoint", ckpt, "--out", good, "--adaptive-threshold", "0.25");
        Assert.True(code == 0, err);
        Assert.Equal(0.25f, ModelFile.Read(good).AdaptiveThreshold);
        (code, _, err) = QuantizeCliTests.Cli("--checkpoint", ckpt, "--out", bad, "--adaptive-threshold", "1.5");
        Assert.Equal(2, code);
        Assert.Contains("--adaptive-threshold", err);
        Assert.False(File.Exists(bad));
    }
}
