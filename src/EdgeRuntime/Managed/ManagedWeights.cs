using EdgeShortcut.Runtime.Managed.Kernels;
using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>LayerNorm parameters: gain and offset, each <c>[d]</c>.</summary>
internal sealed record NormWeights(float[] Weight, float[] Bias);

/// <summary>One ordinary pre-LN block (<c>blocks.{i}</c>): causal self-attention, then the GELU MLP.</summary>
/// <param name="Ln1">LayerNorm before attention.</param>
/// <param name="Qkv">Fused projection <c>[3d, d]</c>: rows q, k, v; heads contiguous inside each.</param>
/// <param name="AttnProj">Attention output projection <c>[d, d]</c>.</param>
/// <param name="Ln2">LayerNorm before the MLP.</param>
/// <param name="Fc">MLP up-projection <c>[d_ff, d]</c>.</param>
/// <param name="Proj">MLP down-projection <c>[d, d_ff]</c>.</param>
internal sealed record BlockWeights(NormWeights Ln1, ManagedLinear Qkv, ManagedLinear AttnProj, NormWeights Ln2, ManagedLinear Fc, ManagedLinear Proj);

/// <summary>The feature MLP of one tapped layer (<c>features.{j}</c>): <c>z = Proj(GELU(Fc(LN(x_k))))</c>.</summary>
/// <param name="Ln">LayerNorm of the tapped layer's output.</param>
/// <param name="Fc">Up-projection <c>[m, d]</c>.</param>
/// <param name="Proj">Down-projection <c>[d, m]</c>.</param>
internal sealed record FeatureWeights(NormWeights Ln, ManagedLinear Fc, ManagedLinear Proj);

/// <summary>The final shortcut block (<c>shortcut</c>): attention over the tapped features, then the MLP.</summary>
/// <param name="LnQ">LayerNorm of the query input x_{L-1}.</param>
/// <param name="Q">Query projection <c>[d, d]</c>.</param>
/// <param name="Kv">Key/value projection of the features <c>[2d, d]</c>: rows k, v.</param>
/// <param name="AttnProj">Attention output projection <c>[d, d]</c>.</param>
/// <param name="Ln2">LayerNorm before the MLP.</param>
/// <param name="Fc">MLP up-projection <c>[d_ff, d]</c>.</param>
/// <param name="Proj">MLP down-projection <c>[d, d_ff]</c>.</param>
internal sealed record ShortcutWeights(NormWeights LnQ, ManagedLinear Q, ManagedLinear Kv, ManagedLinear AttnProj,
    NormWeights Ln2, ManagedLinear Fc, ManagedLinear Proj);

/// <summary>
/// Every weight of one model, immutable after load and shared by all sequences (llama2.c's
/// TransformerWeights). Read from the ONNX initializers by <see cref="ManagedModelLoader"/>.
/// </summary>
internal sealed class ManagedWeights
{
    /// <summary>Assembles loaded weights (the loader has checked every shape).</summary>
    public ManagedWeights(ModelConfig config, bool isInt8, float[] tokenEmbedding, float[] positionEmbedding,
        BlockWeights[] blocks, FeatureWeights[] features, ShortcutWeights? shortcut, NormWeights finalNorm, ManagedLinear head)
    {
        Config = config;
        TapOfBlock = ShortcutMemory.TapOfBlock(config);
        FullDepth = blocks.Length;
        ProbedExits = [.. config.ExitDepths.IsDefault ? [] : config.ExitDepths.Where(e => FullDepth - e >= MinBlocksSavedByAProbe)];
        TapsUpTo = new int[blocks.Length + 1];
        for (int e = 0; e <= blocks.Length; e++) TapsUpTo[e] = config.IsShortcut ? config.Taps.Count(k => k <= e) : 0;
        IsInt8 = isInt8;
        TokenEmbedding = tokenEmbedding;
        PositionEmbedding = positionEmbedding;
        Blocks = blocks;
        Features = features;
        Shortcut = shortcut;
        FinalNorm = finalNorm;
        Head = head;
        // A decode step that streams the weights from memory reads them best one row group at a time on the VNNI path (see the
        // property; the AVX2 path reads four groups from four places either way: Int8MatVec.Avx2.cs).
        // Weights that pass through the caches once per token are prefetched non-temporally, so that they do not evict what
        // stays (the key/value caches, activations) nor spend the bandwidth of filling the L3 with lines no one reads again.
        // For int8 activations too: the part of a 25M model an L3 keeps without the hint depends on what else uses the L3
        // (another process, another VM), and with it the 25M model decoded faster on average and far more evenly
        // (docs/BENCHMARKS.md, "Fifteenth session"; the fourteenth had found the opposite on a quieter host).
        bool streamed = StreamsFromMemory = WeightBytesPerToken > PackedInt8Matrix.CacheResidentModelBytes;
        foreach (var linear in Linears())
        {
            if (linear is Int8Linear int8)
            {
                int8.Matrix.StreamsFromMemory = streamed;
                int8.Matrix.PrefetchesNonTemporal = streamed;
            }
            else if (linear is WeightOnlyInt8Linear weightOnly) weightOnly.Matrix.PrefetchesNonTemporal = streamed;
        }
    }

    /// <summary>Whether the weights a token reads exceed <see cref="PackedInt8Matrix.CacheResidentModelBytes"/>, so that they
    /// stream from memory through the caches every token (and evict the key/value caches on the way).</summary>
    public bool StreamsFromMemory { get; }

    /// <summary>The model's shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>The trained exits the adaptive policy asks: those with at least <see cref="MinBlocksSavedByAProbe"/>
    /// blocks above them. A probe is one run of the exit head, which costs about one block here (the shortcut
    /// attention, its MLP and the output head; docs/ADAPTIVE.md), so an exit one block below the full depth
    /// could save at most what asking it costs.</summary>
    public int[] ProbedExits { get; }

    /// <summary>See <see cref="ProbedExits"/>.</summary>
    public const int MinBlocksSavedByAProbe = 2;

    /// <summary>Ordinary blocks a full-depth token runs (L-1 for the shortcut model, L for the plain GPT).</summary>
    public int FullDepth { get; }

    /// <summary>Per depth e in 0..<see cref="FullDepth"/>, how many taps are &lt;= e: an exit at e reads the memory
    /// entries of taps 0..TapsUpTo[e]-1 (taps are increasing).</summary>
    public int[] TapsUpTo { get; }

    /// <summary>For each ordinary block, the tap its output feeds, or -1 (<see cref="ShortcutMemory.TapOfBlock"/>).</summary>
    public int[] TapOfBlock { get; }
    /// <summary>True for int8 Linear weights, false for an fp32 file.</summary>
    public bool IsInt8 { get; }
    /// <summary><c>tok_emb.weight</c> <c>[V, d]</c>.</summary>
    public float[] TokenEmbedding { get; }
    /// <summary><c>pos_emb.weight</c> <c>[n_ctx, d]</c>.</summary>
    public float[] PositionEmbedding { get; }
    /// <summary>The ordinary blocks, <see cref="ModelConfig.SelfAttentionBlocks"/> of them.</summary>
    public BlockWeights[] Blocks { get; }
    /// <summary>One feature MLP per tapped layer, in the order of <see cref="ModelConfig.Taps"/> (empty for the baseline).</summary>
    public FeatureWeights[] Features { get; }
    /// <summary>The final shortcut block; null for the baseline.</summary>
    public ShortcutWeights? Shortcut { get; }
    /// <summary><c>ln_f</c>.</summary>
    public NormWeights FinalNorm { get; }
    /// <summary>The output head <c>[V, d]</c>, no bias (FORMAT.md stores it as <c>head.weight_*</c> even when tied).</summary>
    public ManagedLinear Head { get; }

    /// <summary>Every Linear layer, in forward order.</summary>
    public IEnumerable<ManagedLinear> Linears()
    {
        foreach (var b in Blocks) { yield return b.Qkv; yield return b.AttnProj; yield return b.Fc; yield return b.Proj; }
        foreach (var f in Features) { yield return f.Fc; yield return f.Proj; }
        if (Shortcut is { } s) { yield return s.Q; yield return s.Kv; yield return s.AttnProj; yield return s.Fc; yield return s.Proj; }
        yield return Head;
    }

    /// <summary>Distinct Linear weight bytes one decode step reads (the shortcut key/value projection
    /// runs once per tap but its weights are hot after the first): the numerator of the decode roofline.</summary>
    public long WeightBytesPerToken => Linears().Sum(l => l.WeightBytes);
}
