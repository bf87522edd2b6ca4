using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// A random model in the FORMAT.md section 5 layout (initializers laid out by <see cref="OnnxLinearWeights"/>
/// and metadata; the managed engine reads nothing else), so the engine can be timed at any size without a
/// trained file. Timing does not depend on the values, only on the shapes.
/// </summary>
internal static class RandomModel
{
    /// <summary>Uniform random checkpoint weights: Linear and embedding entries in +-1/sqrt(in), biases in
    /// +-0.1, LayerNorm gains around 1.</summary>
    public static Dictionary<string, NamedTensor> Weights(ModelConfig c, int seed = 1)
    {
        var rng = new Random(seed);
        var weights = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var (name, shape) in TensorNames.All(c))
        {
            bool isNormGain = name.Contains("ln") && name.EndsWith(".weight");
            double range = shape.Length == 2 ? 1 / Math.Sqrt(shape[1]) : name.EndsWith(".bias") ? 0.1 : 0.5;
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)((isNormGain ? 1 : 0) + (rng.NextDouble() * 2 - 1) * range);
            weights[name] = new NamedTensor(name, shape, data);
        }
        return weights;
    }

    /// <summary>The model file (no graph nodes) of <see cref="Weights"/>, int8 or fp32.</summary>
    public static OnnxModel Build(ModelConfig c, bool int8, int seed = 1)
    {
        var m = new OnnxModel { IrVersion = 8, ProducerName = "ManagedBench" };
        m.MetadataProps.AddRange(new OnnxMetadata(c, new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize),
            int8 ? OnnxMetadata.Int8 : OnnxMetadata.Fp32, new string('0', 64)).ToProps());
        m.Graph.Initializers.AddRange(OnnxLinearWeights.ForModel(c, Weights(c, seed), int8));
        return m;
    }
}
