using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Everything one sequence writes while it runs (llama2.c's RunState): activation scratch and the
/// caches, all allocated once at full context so a decode step allocates nothing.
/// Shapes use d = model width, H heads of width hd, n = n_ctx, |S| taps, V vocab, and C =
/// <see cref="ChunkTokens"/>: activation buffers hold up to C token rows so prefill runs C tokens at a time.
/// The caches (<see cref="LayerCache"/>) hold keys transposed (<c>[H, hd, capacity]</c>) so attention scores are
/// vector multiply-adds over positions, and values row-major (<c>[H, capacity, hd]</c>), in float32, bfloat16 or int8.
/// </summary>
internal sealed class RunState : IDisposable
{
    /// <summary>Allocates the scratch and caches for <paramref name="c"/>; a helper thread only when
    /// some matrix splits (<see cref="ManagedLinear.SplitsFor"/>; the backend decides).</summary>
    public RunState(ModelConfig c, bool useHelperThread) : this(c, useHelperThread, KeyValueCachePrecision.Float32) { }

    /// <summary>As above, with the caches stored in <paramref name="cachePrecision"/>.</summary>
    public RunState(ModelConfig c, bool useHelperThread, KeyValueCachePrecision cachePrecision)
    {
        int d = c.Dim, n = c.ContextLength, hidden = Math.Max(c.FeedForwardDim, c.IsShortcut ? c.FeatureDim : 0);
        int rows = ChunkTokens = Math.Min(MaxChunkTokens, n);
        if ((long)d * n * Math.Max(1, c.TapCount) > Array.MaxLength || (long)rows * Math.Max(3 * d, hidden) > Array.MaxLength)
            throw new NotSupportedException($"A {d}-wide model with n_ctx {n} and {c.TapCount} taps needs caches beyond the largest .NET array.");
        X = new float[rows * d];
        Normed = new float[rows * d];
        Branch = new float[rows * d];
        Qkv = new float[rows * 3 * d];
        Attention = new float[rows * d];
        Hidden = new float[rows * hidden];
        Kv = new float[rows * 2 * d];
        Logits = new float[c.VocabSize];
        Quantized = new QuantizedActivations(rows, Math.Max(d, hidden));
        QuantizedHidden = new QuantizedActivations(rows, hidden);
        ShortcutCapacity = n * c.TapCount;
        Scores = new float[Math.Max(n, ShortcutCapacity)];
        Caches = new LayerCache[c.SelfAttentionBlocks];
        for (int i = 0; i < Caches.Length; i++) Caches[i] = new LayerCache(d, c.Heads, n, cachePrecision);
        ShortcutCache = new LayerCache(d, c.Heads, ShortcutCapacity, cachePrecision);
        Parallel = useHelperThread ? new RowParallel() : null;
        Exit = new ExitState(c, rows);
    }

    /// <summary>Whether the model's weights stream from memory every token (<see cref="ManagedWeights.StreamsFromMemory"/>),
    /// evicting the key/value caches between two visits of a layer; a long decode attention is then shared with the helper
    /// thread (<see cref="ParallelAttention.WorthSharing"/>). Set by the backend; tests set it to run the shared path on a
    /// small model.</summary>
    public bool WeightsStream { get; set; }

    /// <summary>Most token rows processed together (prefill chunk); decode uses one row. 256 rather than 128: with each
    /// thread owning half of a chunk's tokens (PrefillBlock), a 256-token prompt in one chunk ran 5-10% faster on two
    /// threads at 85M and d256 (fewer hand-offs, a better balanced attention split, twice the tokens per weight pass;
    /// ManagedBench prefill, alternated twice), for ~5 MB more activation buffers per 85M sequence.</summary>
    public const int MaxChunkTokens = 256;

    /// <summary>C, the token rows the activation buffers hold: min(<see cref="MaxChunkTokens"/>, n_ctx).</summary>
    public int ChunkTokens { get; }
    /// <summary>Residual stream x <c>[C, d]</c> (then h in the final block).</summary>
    public float[] X { get; }
    /// <summary>LayerNorm outputs <c>[C, d]</c>, the input of the next Linear.</summary>
    public float[] Normed { get; }
    /// <summary>Residual branch outputs <c>[C, d]</c> before they are added to <see cref="X"/>; also z_j.</summary>
    public float[] Branch { get; }
    /// <summary>Fused q, k, v of an ordinary block <c>[C, 3d]</c>; the shortcut query uses the first d.</summary>
    public float[] Qkv { get; }
    /// <summary>Concatenated per-head attention outputs <c>[C, d]</c>.</summary>
    public float[] Attention { get; }
    /// <summary>MLP / feature-MLP hidden activations <c>[C, max(d_ff, m)]</c>.</summary>
    public float[] Hidden { get; }
    /// <summary>Shortcut keys and values of one feature <c>[C, 2d]</c>.</summary>
    public float[] Kv { get; }
    /// <summary>Output logits <c>[V]</c>.</summary>
    public float[] Logits { get; }
    /// <summary>int8 activation rows for the int8 kernels, up to <c>[C, max(d, d_ff, m)]</c>.</summary>
    public QuantizedActivations Quantized { get; }
    /// <summary>The MLP hidden rows (after GELU) quantized by the fc layer's epilogue for the proj layer (int8
    /// activations), kept apart from <see cref="Quantized"/>, which holds the fc layer's own input meanwhile.</summary>
    public QuantizedActivations QuantizedHidden { get; }
    /// <summary>Attention scores/probabilities <c>[max(n, n |S|)]</c>.</summary>
    public float[] Scores { get; }
    /// <summary>Per ordinary block, its key/value cache over n positions.</summary>
    public LayerCache[] Caches { get; }
    /// <summary>Shortcut cache entries per head: n |S| (entry e = tau |S| + j).</summary>
    public int ShortcutCapacity { get; }
    /// <summary>The shortcut block's memory: keys and values of n |S| entries.</summary>
    public LayerCache ShortcutCache { get; }
    /// <summary>What depth policies keep: exit depths, masks, draft rows (<see cref="ExitState"/>).</summary>
    public ExitState Exit { get; }
    /// <summary>The helper thread for large matrices, or null.</summary>
    public RowParallel? Parallel { get; }

    /// <summary>Stops the helper thread, if any.</summary>
    public void Dispose() => Parallel?.Dispose();
}
