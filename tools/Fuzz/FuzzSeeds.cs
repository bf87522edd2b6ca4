using System.Text;
using System.Text.Json;
using EdgeShortcut.Core;

namespace EdgeShortcut.Fuzz;

/// <summary>Valid inputs for the targets, made in-process from seeded random weights: tiny models
/// (L = 3, d = 8, H = 2, n_ctx = 8, byte vocab), so a case costs microseconds to milliseconds.</summary>
public static class FuzzSeeds
{
    /// <summary>The shortcut model (tied embeddings) and the baseline (untied head).</summary>
    public static IReadOnlyList<ModelConfig> Configs { get; } =
    [
        new ModelConfig { VocabSize = 256, ContextLength = 8, Layers = 3, Dim = 8, Heads = 2, FeedForwardDim = 16, FeatureDim = 16, Taps = [1, 2], ExitDepths = [1] }.Validate(),
        new ModelConfig { VocabSize = 256, ContextLength = 8, Layers = 3, Dim = 8, Heads = 2, FeedForwardDim = 16, FeatureDim = 16, Taps = [], TiedEmbeddings = false }.Validate(),
    ];

    /// <summary>Weights for every tensor of <paramref name="config"/> in PyTorch's default ranges.</summary>
    public static Dictionary<string, NamedTensor> Weights(ModelConfig config, int seed)
    {
        var random = new Random(seed);
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var (name, shape) in TensorNames.All(config))
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            double range = shape.Length == 2 ? 1 / Math.Sqrt(shape[1]) : 0.1;
            for (int i = 0; i < data.Length; i++) data[i] = (float)((random.NextDouble() * 2 - 1) * range) + (name.EndsWith("ln1.weight") || name.EndsWith("ln2.weight") ? 1 : 0);
            result[name] = new NamedTensor(name, shape, data);
        }
        return result;
    }

    /// <summary>A checkpoint as one input: <c>[u32 LE length of config.json][config.json][model.safetensors]</c>.</summary>
    public static byte[] Checkpoint(ModelConfig config, int seed)
    {
        string temp = Path.Combine(Path.GetTempPath(), $"es-fuzz-seed-{Guid.NewGuid():N}.safetensors");
        try
        {
            Safetensors.Write(temp, TensorNames.All(config).Select(t => Weights(config, seed)[t.Name]), new Dictionary<string, string> { ["format"] = "pt" });
            byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new CheckpointConfig { Model = config }, Core.Checkpoint.Json));
            return [.. BitConverter.GetBytes(json.Length), .. json, .. File.ReadAllBytes(temp)];
        }
        finally { File.Delete(temp); }
    }

    /// <summary>An ONNX file as the quantizer writes it.</summary>
    public static byte[] Onnx(ModelConfig config, int seed, bool int8)
    {
        var (model, _) = Quantize.OnnxExporter.BuildModel(new CheckpointConfig { Model = config }, Weights(config, seed), int8 ? Quantize.ExportPrecision.Int8 : Quantize.ExportPrecision.Fp32, "00");
        return Core.Onnx.OnnxWriter.ToBytes(model);
    }
}
