using System.Text.Json;

namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// The <c>metadata_props</c> contract of an EdgeShortcut ONNX file (docs/FORMAT.md section 5): the
/// keys, how they are written, and a validating reader, so the runtime needs no file but the model.
/// </summary>
/// <param name="Model">The model config (key <see cref="ModelConfigKey"/>).</param>
/// <param name="Tokenizer">The tokenizer (key <see cref="TokenizerKey"/>).</param>
/// <param name="Precision"><c>int8</c> or <c>fp32</c> (key <see cref="PrecisionKey"/>).</param>
/// <param name="SourceSha256">Hex SHA-256 of the source model.safetensors (key <see cref="SourceShaKey"/>).</param>
public sealed record OnnxMetadata(ModelConfig Model, TokenizerSpec Tokenizer, string Precision, string SourceSha256)
{
    /// <summary>The ONNX file format version this code writes and reads.</summary>
    public const int FormatVersion = 1;
    /// <summary>Key of the format version.</summary>
    public const string FormatVersionKey = "edgeshortcut.format_version";
    /// <summary>Key of the ModelConfig JSON.</summary>
    public const string ModelConfigKey = "edgeshortcut.model_config";
    /// <summary>Key of the TokenizerSpec JSON.</summary>
    public const string TokenizerKey = "edgeshortcut.tokenizer";
    /// <summary>Key of the weight precision.</summary>
    public const string PrecisionKey = "edgeshortcut.precision";
    /// <summary>Key of the quantization scheme (int8 files only).</summary>
    public const string QuantizationKey = "edgeshortcut.quantization";
    /// <summary>Key of the source checkpoint hash.</summary>
    public const string SourceShaKey = "edgeshortcut.source_sha256";
    /// <summary>The one int8 scheme (<see cref="Int8Quantization"/>).</summary>
    public const string Int8Scheme = "symmetric-int8-per-output-channel";
    /// <summary>Precision value of int8 files.</summary>
    public const string Int8 = "int8";
    /// <summary>Precision value of fp32 files.</summary>
    public const string Fp32 = "fp32";
    /// <summary>Key of the recommended adaptive-depth threshold (optional; exit-trained models only).</summary>
    public const string AdaptiveThresholdKey = "edgeshortcut.adaptive_threshold";

    /// <summary>The confidence threshold this file recommends for adaptive depth (the runtime's
    /// <c>DepthPolicy.Adaptive()</c> without a threshold), chosen by measuring the model (docs/ADAPTIVE.md);
    /// null = none recorded (the runtime's default applies). Only files with <c>exit_depths</c> carry one.</summary>
    public float? AdaptiveThreshold { get; init; }

    /// <summary>Whether <paramref name="threshold"/> is a valid adaptive threshold: finite, in (0, 1].</summary>
    public static bool IsValidThreshold(float threshold) => threshold > 0 && threshold <= 1;

    /// <summary>The key/value pairs to store in <c>metadata_props</c>, in a fixed order.</summary>
    public IEnumerable<KeyValuePair<string, string>> ToProps()
    {
        yield return new(FormatVersionKey, FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return new(ModelConfigKey, JsonSerializer.Serialize(Model));
        yield return new(TokenizerKey, JsonSerializer.Serialize(Tokenizer));
        yield return new(PrecisionKey, Precision);
        if (Precision == Int8) yield return new(QuantizationKey, Int8Scheme);
        yield return new(SourceShaKey, SourceSha256);
        if (AdaptiveThreshold is { } t) yield return new(AdaptiveThresholdKey, t.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Reads and validates the metadata; <paramref name="source"/> names the file in errors.</summary>
    public static OnnxMetadata Read(IReadOnlyDictionary<string, string> props, string source)
    {
        string Get(string key) => props.TryGetValue(key, out var v) ? v
            : throw new CheckpointFormatException(source, $"metadata '{key}' is missing: not an EdgeShortcut ONNX model");
        string version = Get(FormatVersionKey);
        if (version != FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new CheckpointFormatException(source, $"unknown {FormatVersionKey} '{version}' (this build reads {FormatVersion})");
        T Parse<T>(string key) where T : class
        {
            try { return JsonSerializer.Deserialize<T>(Get(key)) ?? throw new JsonException("null"); }
            catch (JsonException e) { throw new CheckpointFormatException(source, $"metadata '{key}' is not valid JSON: {e.Message}", e); }
        }
        var model = Parse<ModelConfig>(ModelConfigKey);
        var tokenizer = Parse<TokenizerSpec>(TokenizerKey);
        try { model.Validate(); tokenizer.Validate(); }
        catch (InvalidModelConfigException e) { throw new CheckpointFormatException(source, e.Message, e); }
        string precision = Get(PrecisionKey);
        if (precision is not (Int8 or Fp32)) throw new CheckpointFormatException(source, $"metadata '{PrecisionKey}' is '{precision}', expected '{Int8}' or '{Fp32}'");
        if (precision == Int8 && Get(QuantizationKey) != Int8Scheme)
            throw new CheckpointFormatException(source, $"metadata '{QuantizationKey}' is '{props[QuantizationKey]}', expected '{Int8Scheme}'");
        return new OnnxMetadata(model, tokenizer, precision, Get(SourceShaKey)) { AdaptiveThreshold = ReadThreshold(props, model, source) };
    }

    private static float? ReadThreshold(IReadOnlyDictionary<string, string> props, ModelConfig model, string source)
    {
        if (!props.TryGetValue(AdaptiveThresholdKey, out var text)) return null;
        if (!float.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float t) || !IsValidThreshold(t))
            throw new CheckpointFormatException(source, $"metadata '{AdaptiveThresholdKey}' is '{text}', expected a number in (0, 1]");
        if (model.ExitDepths.IsEmpty)
            throw new CheckpointFormatException(source, $"metadata '{AdaptiveThresholdKey}' is set but the model has no exit_depths (it was not trained with the exit recipe)");
        return t;
    }
}
