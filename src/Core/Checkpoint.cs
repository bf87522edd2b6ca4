using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeShortcut.Core;

/// <summary>
/// A checkpoint directory: <c>config.json</c> (<see cref="CheckpointConfig"/>) and
/// <c>model.safetensors</c> (fp32 weights named by <see cref="TensorNames"/>). The trainer adds its
/// optimizer and training state beside them; readers of the model need only these two files.
/// </summary>
internal static class Checkpoint
{
    /// <summary>File name of the config.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>File name of the fp32 weights.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>The checkpoint format version this code reads and writes.</summary>
    public const int FormatVersion = 1;
    /// <summary>Value of the <c>format</c> key.</summary>
    public const string FormatName = "edgeshortcut-checkpoint";

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes config.json atomically.</summary>
    public static void WriteConfig(string directory, CheckpointConfig config) =>
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), JsonSerializer.Serialize(config, Json));

    /// <summary>Reads and validates config.json (format name, version, model config, tokenizer), after
    /// recovering an interrupted commit of the directory (<see cref="CheckpointDirectory.Recover"/>).</summary>
    public static CheckpointConfig ReadConfig(string directory)
    {
        CheckpointDirectory.Recover(directory);
        string path = Path.Combine(directory, ConfigFile);
        if (!Directory.Exists(directory)) throw new CheckpointFormatException(directory, "checkpoint directory not found");
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "config.json not found: not a checkpoint directory");
        CheckpointConfig? config;
        try { config = JsonSerializer.Deserialize<CheckpointConfig>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new CheckpointFormatException(path, $"not valid JSON: {e.Message}", e); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException or DecoderFallbackException)
        { throw new CheckpointFormatException(path, $"not a checkpoint config: {e.Message}", e); }
        if (config is null || config.Model is null || config.Tokenizer is null)
            throw new CheckpointFormatException(path, "missing 'model' or 'tokenizer'");
        if (config.Format != FormatName) throw new CheckpointFormatException(path, $"format is '{config.Format}', expected '{FormatName}'");
        if (config.FormatVersion != FormatVersion) throw new CheckpointFormatException(path, $"unknown format_version {config.FormatVersion} (this build reads {FormatVersion})");
        try { config.Model.Validate(); config.Tokenizer.Validate(); }
        catch (InvalidModelConfigException e) { throw new CheckpointFormatException(path, e.Message, e); }
        if (config.Tokenizer.VocabSize != config.Model.VocabSize)
            throw new CheckpointFormatException(path, $"tokenizer vocab_size {config.Tokenizer.VocabSize} differs from model vocab_size {config.Model.VocabSize}");
        return config;
    }

    /// <summary>Reads config and weights and checks that the tensors are exactly those the config
    /// implies (names and shapes), so a mismatched or truncated checkpoint fails here, by name.</summary>
    public static (CheckpointConfig Config, Dictionary<string, NamedTensor> Tensors) Load(string directory)
    {
        var config = ReadConfig(directory);
        string weights = Path.Combine(directory, WeightsFile);
        var tensors = Safetensors.Read(weights);
        CheckTensors(weights, config.Model, tensors);
        return (config, tensors);
    }

    /// <summary>Throws unless <paramref name="tensors"/> holds exactly the tensors of <paramref name="model"/>,
    /// every value finite (a NaN or infinity is named with its tensor and index).</summary>
    public static void CheckTensors(string path, ModelConfig model, IReadOnlyDictionary<string, NamedTensor> tensors)
    {
        var expected = TensorNames.All(model);
        foreach (var (name, shape) in expected)
        {
            if (!tensors.TryGetValue(name, out var t)) throw new CheckpointFormatException(path, $"tensor '{name}' required by the config is missing");
            if (!t.Shape.SequenceEqual(shape))
                throw new CheckpointFormatException(path, $"tensor '{name}' has shape [{string.Join(",", t.Shape)}], the config implies [{string.Join(",", shape)}]");
        }
        var names = expected.Select(e => e.Name).ToHashSet();
        var extra = tensors.Keys.FirstOrDefault(k => !names.Contains(k));
        if (extra is not null) throw new CheckpointFormatException(path, $"tensor '{extra}' is not part of the model the config describes");
        foreach (var (name, _) in expected)
            if (FirstNonFinite(tensors[name].Data) is int i)
                throw new CheckpointFormatException(path, $"tensor '{name}' holds a non-finite value ({tensors[name].Data[i]}) at index {i}");
    }

    /// <summary>Index of the first NaN or infinity, or null when every value is finite.</summary>
    public static int? FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return null;
    }
}

/// <summary>The content of a checkpoint's config.json.</summary>
public sealed record CheckpointConfig
{
    /// <summary>Always <see cref="Checkpoint.FormatName"/>.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = Checkpoint.FormatName;
    /// <summary>Checkpoint format version (<see cref="Checkpoint.FormatVersion"/>).</summary>
    [JsonPropertyName("format_version")] public int FormatVersion { get; init; } = Checkpoint.FormatVersion;
    /// <summary>The model shape.</summary>
    [JsonPropertyName("model")] public ModelConfig Model { get; init; } = new();
    /// <summary>The tokenizer the model was trained with.</summary>
    [JsonPropertyName("tokenizer")] public TokenizerSpec Tokenizer { get; init; } = TokenizerSpec.Bytes;
}
