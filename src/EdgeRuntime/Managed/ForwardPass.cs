using EdgeShortcut.Core;
using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// <b>Start reading the managed engine here.</b> The shortcut GPT's forward pass (PAPER.md; FORMAT.md
/// section 4) for T new tokens at positions p0..p0+T-1, top to bottom, with the kernels as leaves:
/// <code>
/// x_0 = E_tok[ids] + E_pos[p0..p0+T-1]                                # [T, d]          Embed
/// for block l = 1..e:                                                  # e = depth; full = L-1 (B = L for a plain GPT)
///     x += Attn_l(LN1(x))   (keys/values appended to block l's cache)  TransformerBlock.Attention
///     x += MLP_l(LN2(x))                                               TransformerBlock.Mlp
///     if l is tap j:  z_j = F_j(LN_j(x))                               ShortcutAttention.Feature
///                     append Lin_kv(z_j) as entries (p, j)             ShortcutAttention.AppendEntries
/// exit head, for the rows whose logits are wanted:                     ExitHead
///     h = x_e + Attn(LN_q(x_e), memory entries of taps &lt;= e)          ShortcutAttention.Attend
///     h += MLP(LN2(h))                                                 TransformerBlock.Mlp
///     logits = Head(LN_f(h))                                           LayerNorm, ManagedLinear
/// </code>
/// A prefill chunk (16+ tokens) runs each block as <see cref="PrefillBlock"/>'s per-token stages, the same arithmetic
/// with each thread owning half of the tokens. At the full depth this is the model as trained; at a shallower exit e (issue 10) the same shortcut
/// block is the exit head. Buffers are <see cref="RunState"/>'s (allocated once); weights are
/// <see cref="ManagedWeights"/>. The <c>TProbe</c> hook of its methods brackets each phase
/// (<see cref="ForwardPhase"/>) for the profiler; <see cref="NoForwardProbe"/> compiles to nothing.
/// </summary>
internal static class ForwardPass
{
    /// <summary>Runs <paramref name="tokens"/> (at most <see cref="RunState.ChunkTokens"/>) at positions p0..
    /// through blocks 1..<paramref name="depth"/>; fills the caches and, if <paramref name="wantLogits"/>,
    /// <see cref="RunState.Logits"/> of the last token from the exit head at that depth. With <paramref name="tapMass"/>
    /// non-empty (and logits wanted), it is cleared and filled with that head's attention mass per tap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Run<TProbe>(ManagedWeights w, RunState s, ReadOnlySpan<int> tokens, int p0, int depth, bool wantLogits, Span<float> tapMass, ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        int d = w.Config.Dim, T = tokens.Length;
        Embed(w, s, tokens, p0, ref probe);
        // Nothing reads the last block's output but the exit head, and it reads the last token's row: unless that block feeds
        // a tap (its features read every row), a prefill chunk runs it for the cache and that one row, or for the cache alone
        // when no logits are wanted (PrefillRows). Decode steps and Verify (every row's logits) run every row.
        bool lastRowOnly = T >= TokenParallel.MinSharedTokens && depth > 0 && w.TapOfBlock[depth - 1] < 0;
        Blocks(w, s, T, p0, 0, lastRowOnly ? depth - 1 : depth, ref probe);
        if (lastRowOnly)
            PrefillBlock.Run(w, s, depth - 1, p0, T, s.Exit.UseMasks ? s.Exit.BlockKeyMask[depth - 1] : default, ref probe,
                wantLogits ? PrefillRows.Last : PrefillRows.None);
        if (!wantLogits) return;
        var x = s.X.AsSpan((T - 1) * d, d);
        if (depth < w.FullDepth)
        {
            // The exit head works on a copy, so x_e stays in X (a deeper single-token pass may continue from it).
            x.CopyTo(s.Exit.ExitX);
            x = s.Exit.ExitX;
        }
        tapMass.Clear();
        ExitHead(w, s, x, p0 + T - 1, depth, s.Logits, tapMass, ref probe);
    }

    /// <summary>x_0 = E_tok[ids] + E_pos[p0..] into the first T rows of <see cref="RunState.X"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Embed<TProbe>(ManagedWeights w, RunState s, ReadOnlySpan<int> tokens, int p0, ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        int d = w.Config.Dim;
        probe.Begin(ForwardPhase.Embedding);
        for (int t = 0; t < tokens.Length; t++)
            Elementwise.Add(w.TokenEmbedding.AsSpan(tokens[t] * d, d), w.PositionEmbedding.AsSpan((p0 + t) * d, d), s.X.AsSpan(t * d, d));
        probe.End(ForwardPhase.Embedding);
    }

    /// <summary>Ordinary blocks <paramref name="from"/>+1..<paramref name="to"/> (1-based; 0-based indices from..to-1)
    /// on the first T rows of <see cref="RunState.X"/>, with the features of the tapped ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Blocks<TProbe>(ManagedWeights w, RunState s, int T, int p0, int from, int to, ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        var c = w.Config;
        int d = c.Dim, heads = c.Heads;
        float eps = c.LayerNormEps;
        var exit = s.Exit;
        for (int i = from; i < to; i++)
        {
            if (T >= TokenParallel.MinSharedTokens)
            {
                // A prefill chunk: the same arithmetic in per-token stages, each thread its own tokens (PrefillBlock).
                PrefillBlock.Run(w, s, i, p0, T, exit.UseMasks ? exit.BlockKeyMask[i] : default, ref probe);
                continue;
            }
            var block = w.Blocks[i];
            probe.Begin(ForwardPhase.BlockAttention);
            TransformerBlock.Attention(block, s, i, p0, T, heads, eps, exit.UseMasks ? exit.BlockKeyMask[i] : default);
            probe.End(ForwardPhase.BlockAttention);
            probe.Begin(ForwardPhase.BlockMlp);
            TransformerBlock.Mlp(block.Ln2, block.Fc, block.Proj, s, s.X.AsSpan(0, T * d), T, eps);
            probe.End(ForwardPhase.BlockMlp);

            int tap = w.TapOfBlock[i];
            if (tap < 0) continue;
            probe.Begin(ForwardPhase.FeatureMlp);
            ShortcutAttention.Feature(w.Features[tap], s, T, eps);
            probe.End(ForwardPhase.FeatureMlp);
            probe.Begin(ForwardPhase.ShortcutEntries);
            ShortcutAttention.AppendEntries(w.Shortcut!, s, tap, p0, T, c.TapCount, heads);
            probe.End(ForwardPhase.ShortcutEntries);
        }
    }

    /// <summary>The exit head at <paramref name="depth"/> on residual row <paramref name="x"/> (x_depth of the token at
    /// position <paramref name="p"/>, modified in place) into <paramref name="logits"/> <c>[V]</c>. With
    /// <paramref name="tapMass"/> non-empty, adds each tap's attention share into it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ExitHead<TProbe>(ManagedWeights w, RunState s, Span<float> x, int p, int depth, Span<float> logits, Span<float> tapMass, ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        var c = w.Config;
        float eps = c.LayerNormEps;
        if (w.Shortcut is { } shortcut)
        {
            probe.Begin(ForwardPhase.ShortcutAttention);
            ShortcutAttention.Attend(shortcut, s, x, p, c.TapCount, c.Heads, eps, EntryMask(w, s, p, depth), tapMass);
            probe.End(ForwardPhase.ShortcutAttention);
            probe.Begin(ForwardPhase.ShortcutMlp);
            TransformerBlock.Mlp(shortcut.Ln2, shortcut.Fc, shortcut.Proj, s, x, 1, eps);
            probe.End(ForwardPhase.ShortcutMlp);
        }
        probe.Begin(ForwardPhase.Head);
        var normed = s.Normed.AsSpan(0, c.Dim);
        LayerNorm.Apply(x, w.FinalNorm.Weight, w.FinalNorm.Bias, eps, normed);
        w.Head.Apply(normed, logits, 1, s.Quantized, s.Parallel);
        probe.End(ForwardPhase.Head);
    }

    /// <summary>The additive mask over the first (p+1)|S| memory entries for a query exiting at <paramref name="depth"/>:
    /// entries of taps deeper than the exit are hidden, and under masks so are entries that were never
    /// computed. Empty (no masking at all) at full depth without masks: the model as trained, unchanged.</summary>
    private static ReadOnlySpan<float> EntryMask(ManagedWeights w, RunState s, int p, int depth)
    {
        int S = w.Config.TapCount, limit = w.TapsUpTo[depth];
        var exit = s.Exit;
        if (limit == S && !exit.UseMasks) return default;
        int entries = ShortcutMemory.EntriesUpTo(p + 1, S);
        var mask = exit.QueryMask.AsSpan(0, entries);
        if (exit.UseMasks) exit.EntryMask.AsSpan(0, entries).CopyTo(mask);
        else mask.Clear();
        if (limit < S)
            for (int tau = 0; tau <= p; tau++)
                mask.Slice(ShortcutMemory.Entry(tau, limit, S), S - limit).Fill(AttentionKernels.Masked);
        return mask;
    }
}
