using System.Security.Cryptography;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Quantize;

/// <summary>What an export produced: the file, its size, the source size and the int8 errors.</summary>
/// <param name="OutputPath">The ONNX file written.</param>
/// <param name="OutputBytes">Its size in bytes.</param>
/// <param name="SourceBytes">Size of the source model.safetensors (fp32).</param>
/// <param name="Metadata">The metadata written into the file.</param>
/// <param name="Errors">Per-tensor int8 reconstruction errors (empty for fp32).</param>
public sealed record ExportResult(string OutputPath, long OutputBytes, long SourceBytes, OnnxMetadata Metadata, IReadOnlyList<WeightError> Errors);

/// <summary>
/// Turns a checkpoint directory into one self-describing ONNX file: IR 8, default-domain opset 17,
/// the graph of <see cref="ForwardGraph"/>, metadata of <see cref="OnnxMetadata"/>. The file is written
/// atomically, so an error at any point leaves no partial output.
/// </summary>
public static class OnnxExporter
{
    /// <summary>ONNX IR version written (onnx 1.12's checker accepts up to 8).</summary>
    public const long IrVersion = 8;
    /// <summary>Default-domain opset written (has LayerNormalization; no Gelu/Attention, which are composed).</summary>
    public const long Opset = 17;
    /// <summary><c>producer_name</c> of the files.</summary>
    public const string Producer = "edgeshortcut-quantize";

    /// <summary>Loads and checks <paramref name="checkpointDir"/> (Checkpoint.Load) and writes <paramref name="outputPath"/>.</summary>
    public static ExportResult Export(string checkpointDir, string outputPath, ExportPrecision precision, float? adaptiveThreshold = null)
    {
        var (config, tensors) = Checkpoint.Load(checkpointDir);
        CheckThreshold(config.Model, adaptiveThreshold);
        string weights = Path.Combine(checkpointDir, Checkpoint.WeightsFile);
        string sha;
        using (var stream = File.OpenRead(weights)) sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        var (model, errors) = BuildModel(config, tensors, precision, sha, adaptiveThreshold);
        OnnxWriter.WriteFile(outputPath, model);
        return new ExportResult(Path.GetFullPath(outputPath), new FileInfo(outputPath).Length, new FileInfo(weights).Length,
            OnnxMetadata.Read(model.Metadata(), outputPath), errors);
    }

    /// <summary>Builds the in-memory model for already-loaded weights (names and shapes must match the config).</summary>
    /// <paramref name="adaptiveThreshold"/>: the adaptive-depth threshold to recommend in the metadata (exit-trained models only).
    public static (OnnxModel Model, List<WeightError> Errors) BuildModel(CheckpointConfig config, IReadOnlyDictionary<string, NamedTensor> tensors, ExportPrecision precision, string sourceSha256, float? adaptiveThreshold = null)
    {
        Checkpoint.CheckTensors("<weights>", config.Model, tensors);
        CheckThreshold(config.Model, adaptiveThreshold);
        var (graph, errors) = ForwardGraph.Build(config.Model, tensors, precision);
        var model = new OnnxModel { IrVersion = IrVersion, ProducerName = Producer, ProducerVersion = "1", Graph = graph };
        model.OpsetImports.Add(("", Opset));
        var meta = new OnnxMetadata(config.Model, config.Tokenizer, precision == ExportPrecision.Int8 ? OnnxMetadata.Int8 : OnnxMetadata.Fp32, sourceSha256)
            { AdaptiveThreshold = adaptiveThreshold };
        model.MetadataProps.AddRange(meta.ToProps());
        return (model, errors);
    }

    private static void CheckThreshold(ModelConfig model, float? threshold)
    {
        if (threshold is not { } t) return;
        if (!OnnxMetadata.IsValidThreshold(t))
            throw new ArgumentOutOfRangeException(nameof(threshold), t, "--adaptive-threshold must be a number in (0, 1].");
        if (model.ExitDepths.IsEmpty)
            throw new ArgumentException("--adaptive-threshold needs a model trained with the exit recipe (its config.json has no exit_depths).", nameof(threshold));
    }
}
