using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>Real tiny EdgeShortcut ONNX files, written by the quantizer's exporter from seeded
/// random weights (TinyCheckpoint: L = 3, d = 16, H = 2, n_ctx = 16, V = 256), in a temp directory
/// deleted on Dispose.</summary>
public sealed class TinyOnnxModel : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-runtime-").FullName;

    /// <summary>Writes a model; returns its path, config and fp32 weights (for the reference forward).</summary>
    public (string Path, ModelConfig Config, Dictionary<string, NamedTensor> Weights) Write(
        bool shortcut = true, ExportPrecision precision = ExportPrecision.Fp32, int seed = 5, int contextLength = 16)
    {
        var config = TinyCheckpoint.Config(shortcut) with { ContextLength = contextLength };
        var weights = TinyCheckpoint.RandomWeights(config, seed);
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = config }, weights, precision, "00");
        string path = System.IO.Path.Combine(_dir, $"tiny-{(shortcut ? "sc" : "base")}-{precision}-{seed}-{contextLength}.onnx");
        OnnxWriter.WriteFile(path, model);
        return (path, config, weights);
    }

    /// <summary>A path in the temp directory for hand-made (corrupt) files.</summary>
    public string PathOf(string name) => System.IO.Path.Combine(_dir, name);

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
