using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Support;

/// <summary>
/// Makes tiny random checkpoints for tests: seeded, so every run (and every engine) sees the same
/// weights. Linear weights are uniform in +-1/sqrt(in) (PyTorch's default range), biases and
/// LayerNorm offsets small, LayerNorm gains near 1, embeddings uniform in +-1: large enough that
/// attention is far from uniform and a wrong mask or cache shows up in the logits.
/// </summary>
public static class TinyCheckpoint
{
    /// <summary>A small shortcut (or, with <paramref name="shortcut"/> false, baseline) config:
    /// L = 3, d = 16, H = 2, n_ctx = 16, V = 256, d_ff = m = 32.</summary>
    public static ModelConfig Config(bool shortcut = true, bool tied = true) => new ModelConfig
    {
        VocabSize = 256, ContextLength = 16, Layers = 3, Dim = 16, Heads = 2,
        FeedForwardDim = 32, FeatureDim = 32, TiedEmbeddings = tied,
        Taps = shortcut ? [1, 2] : [],
    }.Validate();

    /// <summary>Random weights for every tensor of <paramref name="config"/>, from <paramref name="seed"/>.</summary>
    public static Dictionary<string, NamedTensor> RandomWeights(ModelConfig config, int seed)
    {
        var rng = new Random(seed);
        float U(double range) => (float)((rng.NextDouble() * 2 - 1) * range);
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var (name, shape) in TensorNames.All(config))
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            bool isNorm = name.Contains("ln") && shape.Length == 1;
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = name switch
                {
                    TensorNames.TokenEmbedding or TensorNames.PositionEmbedding or TensorNames.Head => U(1),
                    _ when isNorm && name.EndsWith(".weight") => 1 + U(0.2),
                    _ when name.EndsWith(".bias") => U(0.1),
                    _ => U(1 / Math.Sqrt(shape[1])),
                };
            }
            result[name] = new NamedTensor(name, shape, data);
        }
        return result;
    }

    /// <summary>Writes config.json + model.safetensors for <paramref name="config"/> into
    /// <paramref name="directory"/> (created if needed) and returns the weights written.</summary>
    public static Dictionary<string, NamedTensor> Write(string directory, ModelConfig config, int seed)
    {
        Directory.CreateDirectory(directory);
        var weights = RandomWeights(config, seed);
        var spec = config.VocabSize == 256 ? TokenizerSpec.Bytes : new TokenizerSpec(TokenizerSpec.TokenFileKind, config.VocabSize);
        Checkpoint.WriteConfig(directory, new CheckpointConfig { Model = config, Tokenizer = spec });
        Safetensors.Write(Path.Combine(directory, Checkpoint.WeightsFile), TensorNames.All(config).Select(t => weights[t.Name]));
        return weights;
    }
}
