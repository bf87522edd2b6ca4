using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>Missing, corrupt and foreign model files fail at Load with a CheckpointFormatException
/// that names the file and the problem, on every backend choice.</summary>
public sealed class ModelFileTests : IDisposable
{
    private readonly TinyOnnxModel _files = new();
    public void Dispose() => _files.Dispose();

    private static CheckpointFormatException LoadFails(string path, BackendKind backend = BackendKind.Auto)
    {
        var ex = Assert.Throws<CheckpointFormatException>(() => EdgeModel.Load(path, new EdgeModelOptions { Backend = backend }));
        Assert.Equal(path, ex.FilePath);
        Assert.StartsWith(path + ": ", ex.Message);
        return ex;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = _files.PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The tiny model with its metadata changed by <paramref name="edit"/>.</summary>
    private string WithMetadata(string name, Action<Dictionary<string, string>> edit)
    {
        var (path, _, _) = _files.Write();
        var model = OnnxReader.ReadFile(path);
        var props = model.Metadata();
        edit(props);
        model.MetadataProps.Clear();
        model.MetadataProps.AddRange(props);
        string output = _files.PathOf(name);
        OnnxWriter.WriteFile(output, model);
        return output;
    }

    [Fact]
    public void A_missing_file_is_named() => Assert.Contains("not found", LoadFails(_files.PathOf("nope.onnx")).Message);

    [Fact]
    public void An_empty_file_is_named() => Assert.Contains("empty", LoadFails(WriteBytes("empty.onnx", [])).Message);

    [Fact]
    public void Random_bytes_are_not_an_ONNX_file()
    {
        var bytes = new byte[4096];
        new Random(1).NextBytes(bytes);
        Assert.Contains("not", LoadFails(WriteBytes("noise.onnx", bytes)).Message);
    }

    [Fact]
    public void Text_is_not_an_ONNX_file() =>
        LoadFails(WriteBytes("text.onnx", System.Text.Encoding.UTF8.GetBytes("{\"hello\": \"this is json\"}\n")));

    [Theory]
    [InlineData(BackendKind.Auto)]
    [InlineData(BackendKind.Cpu)]
    public void A_truncated_file_fails_clearly(BackendKind backend)
    {
        var (path, _, _) = _files.Write();
        var bytes = File.ReadAllBytes(path);
        LoadFails(WriteBytes("truncated.onnx", bytes[..(bytes.Length * 2 / 3)]), backend);
    }

    [Fact]
    public void A_model_without_EdgeShortcut_metadata_is_foreign() =>
        Assert.Contains("edgeshortcut.model_config", LoadFails(WithMetadata("foreign.onnx", p => p.Remove(OnnxMetadata.ModelConfigKey))).Message);

    [Fact]
    public void A_future_format_version_is_refused() =>
        Assert.Contains("'2'", LoadFails(WithMetadata("v2.onnx", p => p[OnnxMetadata.FormatVersionKey] = "2")).Message);

    [Fact]
    public void A_broken_config_names_the_field() =>
        Assert.Contains("n_head", LoadFails(WithMetadata("heads.onnx", p => p[OnnxMetadata.ModelConfigKey] = p[OnnxMetadata.ModelConfigKey].Replace("\"n_head\":2", "\"n_head\":3"))).Message);

    [Fact]
    public void Metadata_that_disagrees_with_the_graph_is_caught_before_the_session_opens()
    {
        // Claims to be the baseline (no taps): the third block's weights, which a baseline of 3 layers has, are then missing
        // (ModelGraphCheck compares the initializers with the metadata before ONNX Runtime sees the file).
        string path = WithMetadata("mismatch.onnx", p => p[OnnxMetadata.ModelConfigKey] = p[OnnxMetadata.ModelConfigKey].Replace("\"taps\":[1,2]", "\"taps\":[]"));
        Assert.Contains("initializer 'blocks.2.ln1.weight' is missing", LoadFails(path, BackendKind.Cpu).Message);
    }

    [Fact]
    public void Bad_model_options_name_the_option()
    {
        var ex = Assert.Throws<ArgumentException>(() => EdgeModel.Load("x.onnx", new EdgeModelOptions { Threads = -1 }));
        Assert.Equal("Threads", ex.ParamName);
        Assert.Equal("Backend", Assert.Throws<ArgumentException>(() => EdgeModel.Load("x.onnx", new EdgeModelOptions { Backend = (BackendKind)9 })).ParamName);
        Assert.Equal("Activations", Assert.Throws<ArgumentException>(() => EdgeModel.Load("x.onnx", new EdgeModelOptions { Activations = (ActivationPrecision)5 })).ParamName);
    }
}
