using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace EdgeShortcut;

/// <summary>
/// The shortcut GPT's shape (PAPER.md). One immutable record shared by the trainer, the quantizer,
/// the runtime and every artifact: it is written into <c>config.json</c> and into the ONNX metadata.
/// <see cref="Taps"/> empty means the plain GPT baseline.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Vocabulary size V (256 for the byte tokenizer).</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 256;

    /// <summary>Context length n_ctx: the number of learned positions.</summary>
    [JsonPropertyName("n_ctx")] public int ContextLength { get; init; } = 256;

    /// <summary>Number of blocks L (at least 2); the last one is the shortcut block when taps exist.</summary>
    [JsonPropertyName("n_layer")] public int Layers { get; init; } = 6;

    /// <summary>Residual width d.</summary>
    [JsonPropertyName("d_model")] public int Dim { get; init; } = 128;

    /// <summary>Attention heads H; <see cref="Dim"/> must be divisible by it.</summary>
    [JsonPropertyName("n_head")] public int Heads { get; init; } = 4;

    /// <summary>Feed-forward width d_ff of every block's MLP.</summary>
    [JsonPropertyName("d_ff")] public int FeedForwardDim { get; init; } = 512;

    /// <summary>Tapped layers S, 1-based, strictly increasing, each in 1..L-1. Empty = plain GPT.</summary>
    [JsonPropertyName("taps")] public ImmutableArray<int> Taps { get; init; } = [1, 2, 3, 4, 5];

    /// <summary>Hidden width m of each tapped layer's feature MLP.</summary>
    [JsonPropertyName("d_feature")] public int FeatureDim { get; init; } = 512;

    /// <summary>Whether the output head reuses the token embedding (logits = h E_tok^T).</summary>
    [JsonPropertyName("tied_embeddings")] public bool TiedEmbeddings { get; init; } = true;

    /// <summary>LayerNorm epsilon.</summary>
    [JsonPropertyName("ln_eps")] public float LayerNormEps { get; init; } = 1e-5f;

    /// <summary>Early-exit depths the model was trained for (the exit recipe, docs/FORMAT.md section 4):
    /// trunk depths e, strictly increasing, each in 1..L-2 with at least one tap &lt;= e; shortcut models
    /// only. At exit e the shortcut block is queried from x_e over the memory of taps &lt;= e. The full
    /// depth L-1 is always an exit and is not listed. Empty (the default, and what a file without the
    /// key reads as) = no recipe.</summary>
    [JsonPropertyName("exit_depths")] public ImmutableArray<int> ExitDepths { get; init; } = [];

    /// <summary>True when the final block attends over tapped-layer features (|S| &gt; 0).</summary>
    [JsonIgnore] public bool IsShortcut => !Taps.IsDefaultOrEmpty;

    /// <summary>Per-head width d / H.</summary>
    [JsonIgnore] public int HeadDim => Dim / Heads;

    /// <summary>Number of ordinary self-attention blocks that keep a key/value cache: L-1 for
    /// the shortcut model (the final block has the shortcut cache instead), L for the baseline.</summary>
    [JsonIgnore] public int SelfAttentionBlocks => IsShortcut ? Layers - 1 : Layers;

    /// <summary>|S|, the number of memory entries per position in the final block.</summary>
    [JsonIgnore] public int TapCount => Taps.IsDefault ? 0 : Taps.Length;

    /// <summary>Every exit depth in increasing order: <see cref="ExitDepths"/> followed by the full depth
    /// L-1 (for the baseline, which has no exits, just L-1).</summary>
    [JsonIgnore] public ImmutableArray<int> AllExits => [.. (ExitDepths.IsDefault ? [] : ExitDepths), Layers - 1];

    /// <summary>True when <paramref name="depth"/> is an exit: the full depth L-1 or one of <see cref="ExitDepths"/>.</summary>
    public bool IsExit(int depth) => depth == Layers - 1 || (!ExitDepths.IsDefault && ExitDepths.Contains(depth));

    /// <summary>The config of PAPER.md's defaults for a given size: d_ff = m = 4d, S = 1..L-1.</summary>
    public static ModelConfig Create(int layers, int dim, int heads, int contextLength, int vocabSize = 256, bool shortcut = true) => new()
    {
        // n_layer is checked first: the taps below are an array of layers - 1 entries (int.MaxValue ran out of memory).
        Taps = shortcut ? [.. Enumerable.Range(1, CheckLayers(layers) - 1)] : [],
        Layers = layers, Dim = dim, Heads = heads, ContextLength = contextLength, VocabSize = vocabSize,
        FeedForwardDim = 4 * dim, FeatureDim = 4 * dim,
    };

    private static int CheckLayers(int layers)
    {
        Require(layers is >= 2 and <= MaxLayers, "n_layer", layers, $"must be in 2..{MaxLayers} (the last block is special)");
        return layers;
    }

    /// <summary>Largest n_layer accepted.</summary>
    public const int MaxLayers = 1024;

    /// <summary>Checks every field; throws <see cref="InvalidModelConfigException"/> naming the bad field.</summary>
    public ModelConfig Validate()
    {
        Require(VocabSize is >= 2 and <= 1 << 24, "vocab_size", VocabSize, "must be in 2..16777216");
        Require(ContextLength is >= 1 and <= 1 << 20, "n_ctx", ContextLength, "must be in 1..1048576");
        Require(Layers is >= 2 and <= MaxLayers, "n_layer", Layers, $"must be in 2..{MaxLayers} (the last block is special)");
        Require(Dim is >= 1 and <= 1 << 16, "d_model", Dim, "must be in 1..65536");
        Require(Heads >= 1 && Heads <= Dim, "n_head", Heads, "must be in 1..d_model");
        Require(Heads >= 1 && Dim % Heads == 0, "n_head", Heads, $"must divide d_model ({Dim})");
        Require(FeedForwardDim is >= 1 and <= 1 << 18, "d_ff", FeedForwardDim, "must be in 1..262144");
        Require(!Taps.IsDefault, "taps", "null", "must be a list (empty for the baseline)");
        for (int i = 0; i < Taps.Length; i++)
        {
            Require(Taps[i] >= 1 && Taps[i] <= Layers - 1, "taps", Taps[i], $"each tapped layer must be in 1..{Layers - 1}");
            Require(i == 0 || Taps[i] > Taps[i - 1], "taps", string.Join(",", Taps), "must be strictly increasing");
        }
        Require(!IsShortcut || FeatureDim is >= 1 and <= 1 << 18, "d_feature", FeatureDim, "must be in 1..262144");
        Require(float.IsFinite(LayerNormEps) && LayerNormEps > 0, "ln_eps", LayerNormEps, "must be a positive finite number");
        Require(!ExitDepths.IsDefault, "exit_depths", "null", "must be a list (empty = no exit recipe)");
        Require(ExitDepths.IsEmpty || IsShortcut, "exit_depths", string.Join(",", ExitDepths), "requires a shortcut model (taps is empty)");
        for (int i = 0; i < ExitDepths.Length; i++)
        {
            int e = ExitDepths[i];
            Require(e >= 1 && e <= Layers - 2, "exit_depths", e, $"each exit depth must be in 1..{Layers - 2} (the full depth {Layers - 1} is always an exit and is not listed)");
            Require(i == 0 || e > ExitDepths[i - 1], "exit_depths", string.Join(",", ExitDepths), "must be strictly increasing");
            Require(Taps[0] <= e, "exit_depths", e, $"needs at least one tapped layer <= it (the first tap is {Taps[0]})");
        }
        // Each field is in range, but together they can still describe a tensor no reader can hold
        // (d_model 65536 with d_ff 4d is a 17-billion-element matrix): refuse it by the field that sizes it.
        foreach (var (name, shape) in Core.TensorNames.All(this))
        {
            long elements = shape.Aggregate(1L, (a, b) => a * b);
            Require(elements <= MaxTensorElements, FieldSizing(name), elements,
                $"elements in tensor '{name}' [{string.Join(",", shape)}]: at most {MaxTensorElements} (1 GiB of float32) per tensor");
        }
        return this;
    }

    /// <summary>Largest tensor a model may have, in elements (1 GiB of float32): every reader holds a
    /// tensor in one array, and a file with larger tensors is past what the formats here are for.</summary>
    public const long MaxTensorElements = 1L << 28;

    /// <summary>The config key that makes tensor <paramref name="name"/> large, for messages.</summary>
    private static string FieldSizing(string name) => name switch
    {
        _ when name.StartsWith("tok_emb") || name.StartsWith("head") => "vocab_size",
        _ when name.StartsWith("pos_emb") => "n_ctx",
        _ when name.Contains(".mlp.") => "d_ff",
        _ when name.StartsWith("features.") => "d_feature",
        _ => "d_model",
    };

    private static void Require(bool ok, string field, object value, string rule)
    {
        if (!ok) throw new InvalidModelConfigException(field, $"Invalid model config: '{field}' = {value} {rule}.");
    }

    /// <inheritdoc />
    public bool Equals(ModelConfig? other) =>
        other is not null && VocabSize == other.VocabSize && ContextLength == other.ContextLength &&
        Layers == other.Layers && Dim == other.Dim && Heads == other.Heads &&
        FeedForwardDim == other.FeedForwardDim && FeatureDim == other.FeatureDim &&
        TiedEmbeddings == other.TiedEmbeddings && LayerNormEps == other.LayerNormEps &&
        Taps.AsSpan().SequenceEqual(other.Taps.AsSpan()) && ExitDepths.AsSpan().SequenceEqual(other.ExitDepths.AsSpan());

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(VocabSize, ContextLength, Layers, Dim, Heads, FeedForwardDim, FeatureDim, HashCode.Combine(TapCount, ExitDepths.IsDefault ? 0 : ExitDepths.Length));
}
