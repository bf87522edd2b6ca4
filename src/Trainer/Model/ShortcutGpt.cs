using TorchSharp;
using TorchSharp.Modules;
using EdgeShortcut.Core;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>
/// The shortcut GPT of PAPER.md / docs/FORMAT.md section 4, in TorchSharp. Ordinary pre-LN blocks
/// 1..B, one feature MLP per tapped layer, and a final block attending over the memory of every
/// tapped feature with the block-causal mask. With no taps it is the plain GPT baseline (B = L
/// ordinary blocks, no shortcut block). Field names are the checkpoint keys (TensorNames.All).
/// </summary>
public sealed class ShortcutGpt : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Embedding tok_emb;
    private readonly Embedding pos_emb;
    private readonly ModuleList<Block> blocks;
    private readonly ModuleList<FeatureMlp> features;
    private readonly ShortcutBlock? shortcut;
    private readonly LayerNorm ln_f;
    private readonly Linear? head;
#pragma warning restore IDE1006
    private readonly double _dropout;
    private readonly int[] _featureOfBlock;   // block index -> feature index j, or -1 when untapped
    private readonly bool _scaledFeatureInit;

    /// <summary>The (validated) model shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>Builds the model with GPT-2 initialisation drawn from torch's global generator (seed it
    /// first for a repeatable model). <paramref name="dropout"/> applies only in training mode.
    /// <paramref name="scaledFeatureInit"/> also gives the feature MLPs' output projections the residual
    /// std 0.02/sqrt(2L) (see <see cref="InitializeWeights"/>).</summary>
    public ShortcutGpt(ModelConfig config, double dropout = 0.0, bool scaledFeatureInit = false) : base("ShortcutGpt")
    {
        _scaledFeatureInit = scaledFeatureInit;
        Config = config.Validate();
        if (dropout is < 0 or >= 1 || double.IsNaN(dropout)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout must be in [0, 1).");
        _dropout = dropout;
        tok_emb = nn.Embedding(config.VocabSize, config.Dim);
        pos_emb = nn.Embedding(config.ContextLength, config.Dim);
        blocks = nn.ModuleList(Enumerable.Range(0, config.SelfAttentionBlocks).Select(i => new Block($"block{i}", config, dropout)).ToArray());
        features = nn.ModuleList(Enumerable.Range(0, config.TapCount).Select(j => new FeatureMlp($"feature{j}", config.Dim, config.FeatureDim, config.LayerNormEps)).ToArray());
        shortcut = config.IsShortcut ? new ShortcutBlock("shortcut", config, dropout) : null;
        ln_f = nn.LayerNorm(config.Dim, config.LayerNormEps);
        head = config.TiedEmbeddings ? null : nn.Linear(config.Dim, config.VocabSize, hasBias: false);

        _featureOfBlock = ShortcutMemory.TapOfBlock(config);
        RegisterComponents();
        InitializeWeights();
    }

    /// <summary>GPT-2 initialisation: weights N(0, 0.02), residual output projections
    /// N(0, 0.02/sqrt(2L)) so the residual stream's variance does not grow with depth, biases 0,
    /// LayerNorms (1, 0). The residual projections are every block's attn.proj and mlp.proj (the
    /// shortcut block's included) and, with scaledFeatureInit, the feature MLPs' proj, whose output
    /// reaches the residual stream through the shortcut attention's values.</summary>
    private void InitializeWeights()
    {
        using var _ = no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.Layers);
        using var oneScalar = 1.0.ToScalar();   // held: a temporary Scalar may be finalized mid-call
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias")) p.zero_();
            else if (p.dim() == 1) p.fill_(oneScalar);                      // the only 1-D weights are LayerNorm gains
            else if (name.EndsWith("attn.proj.weight") || name.EndsWith("mlp.proj.weight")) nn.init.normal_(p, 0, residualStd);
            else if (_scaledFeatureInit && name.StartsWith("features.") && name.EndsWith(".proj.weight")) nn.init.normal_(p, 0, residualStd);
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>ids <c>[B, T]</c> (int64, T &lt;= n_ctx) to logits <c>[B, T, V]</c>.</summary>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var (h, _, _) = Trunk(ids, keepMemory: false);
        return Logits(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logits <c>[B, T, V]</c> at each trunk depth in <paramref name="exits"/> (the exit recipe,
    /// docs/FORMAT.md section 4), running the trunk once: at exit e the shortcut block is queried from
    /// <c>LN_q(x_e)</c> over the memory entries of taps <c>k &lt;= e</c> (and positions tau &lt;= t), then
    /// its MLP and ln_f/head as usual. Exit L-1 is exactly <see cref="forward(Tensor)"/>. Any depth with a
    /// tap at or below it is accepted (1 &lt;= e &lt;= L-1, taps[0] &lt;= e), listed in <see cref="ModelConfig.ExitDepths"/>
    /// or not; all exits share one shortcut-block call (queries concatenated along time), so the returned
    /// tensors are views of one logits tensor (use <c>reshape</c>, not <c>view</c>, to flatten them).
    /// Throws for the baseline, which has no shortcut block.
    /// </summary>
    public Tensor[] forward(Tensor ids, IReadOnlyList<int> exits)
    {
        if (shortcut is null) throw new InvalidOperationException("The baseline model (no taps) has no shortcut block to exit through.");
        if (exits.Count == 0) throw new ArgumentException("at least one exit depth is needed.", nameof(exits));
        foreach (int e in exits)
            if (e < Config.Taps[0] || e > Config.Layers - 1)
                throw new ArgumentOutOfRangeException(nameof(exits), e, $"an exit depth must be in {Config.Taps[0]}..{Config.Layers - 1} (at least one tap at or below it, at most the full depth).");
        using var scope = NewDisposeScope();
        var (_, memory, states) = Trunk(ids, keepMemory: true, stopBeforeShortcut: true);
        long t = ids.shape[1];
        var queries = exits.Count == 1 ? states[exits[0]] : cat(exits.Select(e => states[e]).ToArray(), dim: 1);           // [B, nE*T, d]
        var masks = exits.Select(e => ShortcutAttention.ExitMask(t, Config.Taps, e)).ToArray();
        var mask = masks.Length == 1 ? masks[0] : cat(masks, dim: 0);                                                         // [nE*T, T*|S|]
        var logits = Logits(shortcut.forward(queries, memory!, mask));                                                        // [B, nE*T, V]
        return logits.split(t, dim: 1).Select(l => l.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>
    /// Per-token exits (training with <c>--token-exit-rate</c>; docs/FORMAT.md section 4, "Per-token depths at
    /// run time"): <paramref name="depths"/> <c>[B, T]</c> (int64, each in taps[0]..L-1) gives every token its
    /// depth d_t. Trunk block l leaves x_t unchanged where l &gt; d_t, and its self-attention hides the keys of
    /// tokens u with l &gt; d_u (except from u itself); memory entry (tau, j) exists iff taps[j] &lt;= d_tau. The
    /// logits at exit e are queried from the trunk state x_e (which is x_{min(e, d_t)} for token t) over the
    /// existing entries with taps[j] &lt;= min(e, d_t): at e = L-1 that is each token's prediction at its own
    /// depth, and at a shallower e it is the per-token forward with depths min(e, d_t) (the blocks above e do
    /// not reach x_e or the taps it sees). With every d_t = L-1 it is <see cref="forward(Tensor, IReadOnlyList{int})"/>
    /// up to rounding (explicit masks instead of the causal kernel).
    /// </summary>
    internal Tensor[] forward(Tensor ids, IReadOnlyList<int> exits, Tensor depths)
    {
        if (shortcut is null) throw new InvalidOperationException("The baseline model (no taps) has no shortcut block to exit through.");
        if (exits.Count == 0) throw new ArgumentException("at least one exit depth is needed.", nameof(exits));
        foreach (int e in exits)
            if (e < Config.Taps[0] || e > Config.Layers - 1)
                throw new ArgumentOutOfRangeException(nameof(exits), e, $"an exit depth must be in {Config.Taps[0]}..{Config.Layers - 1}.");
        if (depths.dtype != ScalarType.Int64 || !depths.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"depths must be int64 shaped like ids [{string.Join(",", ids.shape)}].", nameof(depths));
        long lo = depths.min().item<long>(), hi = depths.max().item<long>();
        if (lo < Config.Taps[0] || hi > Config.Layers - 1)
            throw new ArgumentOutOfRangeException(nameof(depths), $"token depths must be in {Config.Taps[0]}..{Config.Layers - 1} (got {lo}..{hi}).");
        using var scope = NewDisposeScope();
        var (_, memory, states) = Trunk(ids, keepMemory: true, stopBeforeShortcut: true, depths, lo);
        long t = ids.shape[1];
        var queries = exits.Count == 1 ? states[exits[0]] : cat(exits.Select(e => states[e]).ToArray(), dim: 1);           // [B, nE*T, d]
        var masks = exits.Select(e => ShortcutAttention.TokenExitMask(depths, Config.Taps, e)).ToArray();
        var mask = (masks.Length == 1 ? masks[0] : cat(masks, dim: 1)).unsqueeze(1);                                          // [B, 1, nE*T, T*|S|]
        var logits = Logits(shortcut.forward(queries, memory!, mask));                                                        // [B, nE*T, V]
        return logits.split(t, dim: 1).Select(l => l.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>The self-attention mask <c>[B, 1, T, T]</c> of trunk block <paramref name="block"/> (1-based) under
    /// per-token depths <c>[B, T]</c>: query t sees key u iff <c>u &lt;= t</c> and (<c>block &lt;= d_u</c> or u = t).</summary>
    internal static Tensor TokenExitKeyMask(Tensor depths, int block)
    {
        using var scope = NewDisposeScope();
        long t = depths.shape[1];
        using var blockScalar = block.ToScalar();
        var exists = depths.ge(blockScalar);                                                    // [B, T]: token u ran this block
        var causal = ones(t, t, dtype: ScalarType.Bool, device: depths.device).tril();          // [T, T]
        var self = eye(t, dtype: ScalarType.Bool, device: depths.device);
        var mask = causal.unsqueeze(0).logical_and(exists.unsqueeze(1).logical_or(self.unsqueeze(0)));   // [B, T, T]
        return mask.unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>The shortcut attention probabilities <c>[B, H, T, T*|S|]</c> for ids <c>[B, T]</c>
    /// (entry e = tau*|S| + j). Throws for the baseline, which has no shortcut block.</summary>
    public Tensor ShortcutAttentionWeights(Tensor ids)
    {
        if (shortcut is null) throw new InvalidOperationException("The baseline model (no taps) has no shortcut attention.");
        using var scope = NewDisposeScope();
        var (x, memory, _) = Trunk(ids, keepMemory: true, stopBeforeShortcut: true);
        return shortcut.AttentionWeights(x, memory!).MoveToOuterDisposeScope();
    }

    /// <summary>Runs embeddings, ordinary blocks, features and (unless stopped) the shortcut block.
    /// Returns the final residual stream <c>[B, T, d]</c>, the memory <c>[B, T*|S|, d]</c> if kept, and the
    /// trunk states: element l is x_l (l = 0 the embeddings, l = 1..B the ordinary blocks' outputs).
    /// With per-token <paramref name="depths"/> <c>[B, T]</c>, blocks deeper than <paramref name="minDepth"/> (the
    /// smallest depth) run with <see cref="TokenExitKeyMask"/> and keep x_t where the block is beyond d_t;
    /// shallower blocks, which every token runs, take the ordinary causal path.</summary>
    private (Tensor Hidden, Tensor? Memory, Tensor[] States) Trunk(Tensor ids, bool keepMemory, bool stopBeforeShortcut = false,
        Tensor? depths = null, long minDepth = long.MaxValue)
    {
        if (ids.dim() != 2) throw new ArgumentException($"ids must be [batch, T], got [{string.Join(",", ids.shape)}].", nameof(ids));
        long b = ids.shape[0], t = ids.shape[1];
        if (t < 1 || t > Config.ContextLength) throw new ArgumentException($"sequence length {t} must be in 1..n_ctx ({Config.ContextLength}).", nameof(ids));
        using var tScalar = t.ToScalar();
        var positions = arange(tScalar, dtype: ScalarType.Int64, device: ids.device);
        var x = nn.functional.dropout(Residual.Add(tok_emb.forward(ids), pos_emb.forward(positions)), _dropout, training);   // [B, T, d]

        var tapped = new Tensor[Config.TapCount];
        var states = new Tensor[blocks.Count + 1];
        states[0] = x;
        for (int i = 0; i < blocks.Count; i++)
        {
            int l = i + 1;
            if (depths is null || l <= minDepth) x = blocks[i].forward(x);
            else
            {
                using var blockScalar = l.ToScalar();
                x = where(depths.ge(blockScalar).unsqueeze(-1), blocks[i].forward(x, TokenExitKeyMask(depths, l)), x);   // skipped: identity
            }
            states[l] = x;
            int j = _featureOfBlock[i];
            if (j >= 0) tapped[j] = features[j].forward(x);                                   // z_j [B, T, d]
        }
        if (shortcut is null) return (x, null, states);
        // Position-major memory: [B, T, |S|, d] -> [B, T*|S|, d], entry e = tau*|S| + j.
        var memory = stack(tapped, dim: 2).reshape(b, t * Config.TapCount, Config.Dim);
        if (stopBeforeShortcut) return (x, memory, states);
        var h = shortcut.forward(x, memory);
        return (h, keepMemory ? memory : null, states);
    }

    /// <summary>LN_f(h) W_out^T with W_out = tok_emb.weight (tied) or head.weight; no bias.</summary>
    private Tensor Logits(Tensor h) =>
        nn.functional.linear(ln_f.forward(h), head is null ? tok_emb.weight! : head.weight!);
}
