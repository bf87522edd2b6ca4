using System.Text.Json.Nodes;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>The exit recipe's <c>exit_depths</c> travels in the ONNX metadata (the whole ModelConfig JSON
/// is written), and a file from before the recipe reads as "no recipe".</summary>
public sealed class ExitDepthsMetadataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-exitmeta-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private Dictionary<string, string> Export(ModelConfig c)
    {
        string ckpt = Path.Combine(_dir, $"ckpt{c.ExitDepths.Length}");
        TinyCheckpoint.Write(ckpt, c, seed: 2);
        string path = Path.Combine(_dir, $"m{c.ExitDepths.Length}.onnx");
        OnnxExporter.Export(ckpt, path, ExportPrecision.Int8);
        return OnnxReader.ReadFile(path).Metadata();
    }

    [Fact]
    public void An_exported_file_carries_exit_depths()
    {
        var c = TinyCheckpoint.Config() with { ExitDepths = [1] };
        var meta = OnnxMetadata.Read(Export(c), "m.onnx");
        Assert.Equal([1], meta.Model.ExitDepths.ToArray());
        Assert.Equal(c, meta.Model);
    }

    [Fact]
    public void A_file_whose_config_lacks_exit_depths_reads_as_no_recipe()
    {
        var props = Export(TinyCheckpoint.Config());
        var json = JsonNode.Parse(props[OnnxMetadata.ModelConfigKey])!.AsObject();
        json.Remove("exit_depths");                              // what files written before the recipe hold
        props[OnnxMetadata.ModelConfigKey] = json.ToJsonString();
        var meta = OnnxMetadata.Read(props, "old.onnx");
        Assert.True(meta.Model.ExitDepths.IsEmpty);
        Assert.Equal(TinyCheckpoint.Config(), meta.Model);
    }
}
